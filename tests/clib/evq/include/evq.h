/* evq.h -- a small event queue: the public header of a realistic C library for cx's tests of a
 * library's whole C API (constants, enums, inline accessors, a variadic logger) with no wrapper. */
#ifndef EVQ_H
#define EVQ_H

#include <stdarg.h>
#include <stddef.h>

#if defined(_WIN32) && defined(EVQ_BUILD_DLL)
#  define EVQ_API __declspec(dllexport)
#elif defined(__GNUC__) || defined(__TINYC__)
#  define EVQ_API __attribute__((visibility("default")))
#else
#  define EVQ_API
#endif

#define EVQ_VERSION "2.1.0"
#define EVQ_VERSION_NUMBER ((2 << 16) | (1 << 8) | 0)
#define EVQ_MAX_TEXT 64
#define EVQ_LOAD_LIMIT 0.75

/* flags of an event: option bits, as libraries spell them */
#define EVQ_F_URGENT (1u << 0)
#define EVQ_F_SILENT (1u << 1)
#define EVQ_F_KEEP (1u << 4)
#define EVQ_F_DEFAULT (EVQ_F_URGENT | EVQ_F_KEEP)

#define EVQ_UNUSED(x) ((void)(x))        /* function-like: not a constant */
#define EVQ_LAST_ERROR (evq_last_error()) /* a call: not a constant */

typedef enum evq_level { EVQ_DEBUG = 10, EVQ_INFO = 20, EVQ_WARN = 30, EVQ_ERROR = 40 } evq_level;
typedef enum { EVQ_OK = 0, EVQ_FULL = -1, EVQ_EMPTY = -2, EVQ_BADARG = -3 } evq_status;

typedef struct evq evq; /* opaque: only queue.c knows its fields */

typedef struct evq_event {
    int kind;
    unsigned flags;
    char text[EVQ_MAX_TEXT];
} evq_event;

EVQ_API evq *evq_new(size_t capacity);
EVQ_API void evq_free(evq *q);
EVQ_API evq_status evq_push(evq *q, int kind, unsigned flags, const char *text);
EVQ_API evq_status evq_pop(evq *q, evq_event *out);
EVQ_API size_t evq_size(const evq *q);
EVQ_API size_t evq_capacity(const evq *q);
EVQ_API int evq_last_error(void);

/* the logger: printf-style, and its va_list form */
EVQ_API int evq_log(evq *q, evq_level level, const char *fmt, ...);
EVQ_API int evq_vlog(evq *q, evq_level level, const char *fmt, va_list ap);
EVQ_API char *evq_format(const char *fmt, ...); /* allocated: free with evq_release */
EVQ_API void evq_release(void *p);

/* inline accessors: part of the API, never exported by the library */
static inline int evq_is_urgent(unsigned flags) { return (flags & EVQ_F_URGENT) != 0; }
static inline double evq_load(const evq *q) { return (double)evq_size(q) / (double)evq_capacity(q); }
static inline int evq_full(const evq *q) { return evq_load(q) >= 1.0; }

#endif
