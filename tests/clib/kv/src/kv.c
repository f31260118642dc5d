/* kv.c -- the store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

static struct kv_entry *find(const kv_store *store, const char *key)
{
    struct kv_entry *e = store->buckets[kv__hash(key) % KV_BUCKETS];
    for (; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

KV_API(kv_store *) kv_open(const char *name)
{
    kv_store *s = calloc(1, sizeof *s);
    if (s)
        snprintf(s->name, sizeof s->name, "%s", name ? name : "");
    return s;
}

KV_API(void) kv_close(kv_store *store)
{
    size_t i;
    if (!store)
        return;
    for (i = 0; i < KV_BUCKETS; i++) {
        struct kv_entry *e = store->buckets[i], *next;
        for (; e; e = next) {
            next = e->next;
            free(e->key);
            free(e->value);
            free(e);
        }
    }
    free(store);
}

KV_API(kv_status) kv_put(kv_store *store, const char *key, const char *value)
{
    struct kv_entry *e;
    if (!store || !key || !value)
        return KV_BADARG;
    e = find(store, key);
    if (e) {
        char *v = kv__strdup(value);
        if (!v)
            return KV_NOMEM;
        store->bytes += strlen(value) - strlen(e->value);
        free(e->value);
        e->value = v;
        return KV_OK;
    }
    e = malloc(sizeof *e);
    if (!e)
        return KV_NOMEM;
    e->key = kv__strdup(key);
    e->value = kv__strdup(value);
    e->next = store->buckets[kv__hash(key) % KV_BUCKETS];
    store->buckets[kv__hash(key) % KV_BUCKETS] = e;
    store->count++;
    store->bytes += strlen(value);
    return KV_OK;
}

KV_API(kv_status) kv_get(const kv_store *store, const char *key, char **value_out)
{
    struct kv_entry *e = store && key ? find(store, key) : NULL;
    if (!value_out)
        return KV_BADARG;
    *value_out = e ? kv__strdup(e->value) : NULL;
    return e ? KV_OK : KV_MISSING;
}

KV_API(kv_count_t) kv_count(const kv_store *store) { return store ? store->count : 0; }

KV_API(kv_real) kv_load(const kv_store *store)
{
    return store ? (kv_real)store->count / (kv_real)KV_BUCKETS : 0;
}

KV_API(int) kv_stats_of(const kv_store *store, kv_stats *out)
{
    if (!store || !out)
        return KV_BADARG;
    out->entries = store->count;
    out->bytes = store->bytes;
    out->load = kv_load(store);
    out->flags = (unsigned char)(store->count > 0) | (unsigned char)(sizeof(kv_count_t) << 1);
    return KV_OK;
}

KV_API(char *) kv_dump(const kv_store *store)
{
    size_t i, n = 3;
    struct kv_entry *e;
    char *out, *p;
    for (i = 0; i < KV_BUCKETS; i++)
        for (e = store->buckets[i]; e; e = e->next)
            n += strlen(e->key) + strlen(e->value) + 4;
    out = p = malloc(n);
    if (!out)
        return NULL;
    *p++ = '{';
    for (i = 0; i < KV_BUCKETS; i++)
        for (e = store->buckets[i]; e; e = e->next)
            p += sprintf(p, "%s%s=%s", p[-1] == '{' ? "" : ", ", e->key, e->value);
    strcpy(p, "}");
    return out;
}

KV_API(const char *) kv_name(const kv_store *store) { return store ? store->name : NULL; }

KV_API(int) kv_each(const kv_store *store, kv_visit_fn visit, void *ctx)
{
    size_t i;
    int n = 0;
    struct kv_entry *e;
    for (i = 0; i < KV_BUCKETS; i++)
        for (e = store->buckets[i]; e; e = e->next, n++)
            if (visit(e->key, e->value, ctx))
                return n + 1;
    return n;
}

KV_API(void) kv_free(void *p) { free(p); }

KV_API(int) kv_version(int *major, int *minor)
{
    if (major)
        *major = KV_VERSION_MAJOR;
    if (minor)
        *minor = KV_VERSION_MINOR;
    return KV_VERSION_MAJOR * 100 + KV_VERSION_MINOR;
}
