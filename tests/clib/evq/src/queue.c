/* queue.c -- the queue itself. */
#include <stdlib.h>
#include <string.h>

#include "evq.h"

struct evq {
    size_t head, size, capacity;
    evq_event *events;
};

static int last_error;

evq *evq_new(size_t capacity)
{
    evq *q = capacity ? calloc(1, sizeof *q) : NULL;
    if (!q) {
        last_error = EVQ_BADARG;
        return NULL;
    }
    q->events = calloc(capacity, sizeof *q->events);
    if (!q->events) {
        free(q);
        return NULL;
    }
    q->capacity = capacity;
    return q;
}

void evq_free(evq *q)
{
    if (q) {
        free(q->events);
        free(q);
    }
}

evq_status evq_push(evq *q, int kind, unsigned flags, const char *text)
{
    if (!q || !text)
        return last_error = EVQ_BADARG;
    if (q->size == q->capacity)
        return last_error = EVQ_FULL;
    evq_event *e = &q->events[(q->head + q->size++) % q->capacity];
    e->kind = kind;
    e->flags = flags;
    strncpy(e->text, text, EVQ_MAX_TEXT - 1);
    e->text[EVQ_MAX_TEXT - 1] = 0;
    return EVQ_OK;
}

evq_status evq_pop(evq *q, evq_event *out)
{
    if (!q || !out)
        return last_error = EVQ_BADARG;
    if (!q->size)
        return last_error = EVQ_EMPTY;
    *out = q->events[q->head];
    q->head = (q->head + 1) % q->capacity;
    q->size--;
    return EVQ_OK;
}

size_t evq_size(const evq *q) { return q ? q->size : 0; }
size_t evq_capacity(const evq *q) { return q ? q->capacity : 0; }
int evq_last_error(void) { return last_error; }
