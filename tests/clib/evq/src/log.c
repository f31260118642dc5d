/* log.c -- the printf-style logger: events whose text is formatted. */
#include <stdio.h>
#include <stdlib.h>

#include "evq.h"

int evq_vlog(evq *q, evq_level level, const char *fmt, va_list ap)
{
    char text[EVQ_MAX_TEXT];
    vsnprintf(text, sizeof text, fmt, ap);
    return evq_push(q, (int)level, level >= EVQ_WARN ? EVQ_F_URGENT : 0u, text);
}

int evq_log(evq *q, evq_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int status = evq_vlog(q, level, fmt, ap);
    va_end(ap);
    return status;
}

char *evq_format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *out = malloc((size_t)n + 1);
    if (out) {
        va_start(ap, fmt);
        vsnprintf(out, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return out;
}

void evq_release(void *p) { free(p); }
