/* internal.h -- what kv's own files share (not installed). */
#ifndef KV_INTERNAL_H
#define KV_INTERNAL_H
#include "kv.h"

struct kv_entry { char *key, *value; struct kv_entry *next; };
struct kv_store { char name[32]; struct kv_entry *buckets[64]; kv_count_t count, bytes; };

#define KV_BUCKETS (sizeof(((struct kv_store *)0)->buckets) / sizeof(struct kv_entry *))

unsigned kv__hash(const char *s);          /* hash.c */
char *kv__strdup(const char *s);           /* hash.c */
#endif
