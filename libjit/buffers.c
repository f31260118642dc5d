/*
 * buffers.c -- the two growable containers of libjit: NUL-terminated
 * strings (diagnostics, error messages, symbol names) and the list of
 * recorded configuration steps; and jit__copy, a bounded string copy.
 * Layer 1 (base.h): calls nothing of libjit's.
 */
#define _POSIX_C_SOURCE 200809L /* strdup */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

/* ---- strings -------------------------------------------------------- */

static int buf_reserve(struct jit_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (extra > (size_t)-1 - b->len - 1)
        return JIT_ENOMEM;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return JIT_OK;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > (size_t)-1 / 2 ? need : cap * 2;
    p = realloc(b->data, cap);
    if (!p)
        return JIT_ENOMEM;
    b->data = p;
    b->cap = cap;
    return JIT_OK;
}

int jit__buf_append(struct jit_buf *b, const char *s, size_t n)
{
    if (buf_reserve(b, n) != JIT_OK) {
        b->truncated = 1;
        return JIT_ENOMEM;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return JIT_OK;
}

int jit__buf_vprintf(struct jit_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || buf_reserve(b, (size_t)n) != JIT_OK) {
        b->truncated = 1;
        return JIT_ENOMEM;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return JIT_OK;
}

int jit__buf_printf(struct jit_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = jit__buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void jit__buf_clear(struct jit_buf *b)
{
    b->len = 0;
    b->truncated = 0;
    if (b->data)
        b->data[0] = '\0';
}

void jit__buf_free(struct jit_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->truncated = 0;
}

const char *jit__buf_str(const struct jit_buf *b)
{
    return b->data ? b->data : "";
}

void jit__copy(char *dst, size_t size, const char *src)
{
    size_t n = src ? strlen(src) : 0;

    if (n >= size)
        n = size - 1;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

/* ---- configuration records ------------------------------------------ */

static char *dup_or_null(const char *s, int *oom)
{
    char *p;

    if (!s)
        return NULL;
    p = strdup(s);
    if (!p)
        *oom = 1;
    return p;
}

int jit__ops_push(struct jit_ops *ops, enum jit_op_kind kind,
                  const char *name, const char *value, const void *addr)
{
    struct jit_op op;
    int oom = 0;

    if (ops->count == ops->cap) {
        size_t cap = ops->cap ? ops->cap * 2 : 16;
        struct jit_op *p = realloc(ops->items, cap * sizeof *p);
        if (!p)
            return JIT_ENOMEM;
        ops->items = p;
        ops->cap = cap;
    }
    op.kind = kind;
    op.name = dup_or_null(name, &oom);
    op.value = dup_or_null(value, &oom);
    op.addr = addr;
    if (oom) {
        free(op.name);
        free(op.value);
        return JIT_ENOMEM;
    }
    ops->items[ops->count++] = op;
    return JIT_OK;
}

int jit__ops_splice(struct jit_ops *dst, struct jit_ops *src)
{
    if (src->count == 0)
        return JIT_OK;
    if (dst->cap - dst->count < src->count) {
        size_t cap = dst->count + src->count;
        struct jit_op *p = realloc(dst->items, cap * sizeof *p);
        if (!p)
            return JIT_ENOMEM;
        dst->items = p;
        dst->cap = cap;
    }
    memcpy(dst->items + dst->count, src->items, src->count * sizeof *src->items);
    dst->count += src->count;
    src->count = 0;
    return JIT_OK;
}

void jit__ops_free(struct jit_ops *ops)
{
    size_t i;

    for (i = 0; i < ops->count; i++) {
        free(ops->items[i].name);
        free(ops->items[i].value);
    }
    free(ops->items);
    ops->items = NULL;
    ops->count = ops->cap = 0;
}
