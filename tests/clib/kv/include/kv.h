/* kv.h -- a tiny key-value store: the public header of a realistic C library for cx's tests.
 * Export macros, platform #ifdefs, an opaque handle, out-parameters, allocated strings. */
#ifndef KV_H
#define KV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(KV_BUILD_DLL)
#  define KV_EXPORT __declspec(dllexport)
#elif defined(__GNUC__) || defined(__TINYC__)
#  define KV_EXPORT __attribute__((visibility("default")))
#else
#  define KV_EXPORT
#endif
/* as cJSON and SQLite spell it: the result type inside a macro */
#define KV_API(type) KV_EXPORT type

#define KV_VERSION_MAJOR 1
#define KV_VERSION_MINOR 4

#ifdef KV_SMALL
typedef uint16_t kv_count_t;
#else
typedef uint64_t kv_count_t;
#endif

#if defined(KV_NO_FLOAT)
typedef long kv_real;
#else
typedef double kv_real;
#endif

typedef struct kv_store kv_store;          /* opaque: only kv.c knows its fields */

typedef enum kv_status { KV_OK = 0, KV_MISSING = -1, KV_NOMEM = -2, KV_BADARG = -3 } kv_status;

typedef struct kv_stats {
    kv_count_t entries;
    kv_count_t bytes;
    kv_real load;
    unsigned char flags;
} kv_stats;

typedef int (*kv_visit_fn)(const char *key, const char *value, void *ctx);

KV_API(kv_store *) kv_open(const char *name);
KV_API(void) kv_close(kv_store *store);
KV_API(kv_status) kv_put(kv_store *store, const char *key, const char *value);
KV_API(kv_status) kv_get(const kv_store *store, const char *key, char **value_out);
KV_API(kv_count_t) kv_count(const kv_store *store);
KV_API(int) kv_stats_of(const kv_store *store, kv_stats *out);
KV_API(char *) kv_dump(const kv_store *store);
KV_API(const char *) kv_name(const kv_store *store);
KV_API(int) kv_each(const kv_store *store, kv_visit_fn visit, void *ctx);
KV_API(kv_real) kv_load(const kv_store *store);
KV_API(void) kv_free(void *p);
KV_API(int) kv_version(int *major, int *minor);

#ifdef __cplusplus
}
#endif
#endif
