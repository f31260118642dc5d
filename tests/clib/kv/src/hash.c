/* hash.c -- helpers of kv. */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

unsigned kv__hash(const char *s)
{
    unsigned h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

char *kv__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    return p ? memcpy(p, s, n) : NULL;
}
