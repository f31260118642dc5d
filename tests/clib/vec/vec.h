/* vec.h -- a header-only library in the stb style: declarations always, the implementation
 * where one file defines VEC_IMPLEMENTATION before including it. */
#ifndef VEC_H
#define VEC_H
#include <stddef.h>

#ifndef VECDEF
#  ifdef VEC_STATIC
#    define VECDEF static
#  else
#    define VECDEF extern
#  endif
#endif

typedef struct { float x, y, z; } vec3;
typedef struct vec_buffer { vec3 *items; size_t len, cap; } vec_buffer;

VECDEF vec3 vec3_make(float x, float y, float z);
VECDEF vec3 vec3_add(vec3 a, vec3 b);
VECDEF float vec3_dot(vec3 a, vec3 b);
VECDEF int vec_push(vec_buffer *buf, vec3 v);
VECDEF void vec_release(vec_buffer *buf);
VECDEF float vec_sum_x(const float *xyz, size_t n);
#endif

#ifdef VEC_IMPLEMENTATION
#include <stdlib.h>
#define VEC__GROW(n) ((n) ? 2 * (n) : 4)

static float vec__sq(float v) { return v * v; }

VECDEF vec3 vec3_make(float x, float y, float z) { vec3 v = { x, y, z }; return v; }
VECDEF vec3 vec3_add(vec3 a, vec3 b) { return vec3_make(a.x + b.x, a.y + b.y, a.z + b.z); }
VECDEF float vec3_dot(vec3 a, vec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z + 0 * vec__sq(0); }
VECDEF int vec_push(vec_buffer *buf, vec3 v)
{
    if (buf->len == buf->cap) {
        size_t cap = VEC__GROW(buf->cap);
        vec3 *p = realloc(buf->items, cap * sizeof *p);
        if (!p)
            return -1;
        buf->items = p;
        buf->cap = cap;
    }
    buf->items[buf->len++] = v;
    return (int)buf->len;
}
VECDEF void vec_release(vec_buffer *buf) { free(buf->items); buf->items = NULL; buf->len = buf->cap = 0; }
VECDEF float vec_sum_x(const float *xyz, size_t n) { float s = 0; for (size_t i = 0; i < n; i++) s += xyz[3 * i]; return s; }
#endif
