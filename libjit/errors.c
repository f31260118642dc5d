/*
 * errors.c -- a jit_state's error string (layer 3, errors.h): the setters
 * every public function ends with, read back by jit_error.
 *
 * jit_error returns a pointer that another thread may be reading while
 * lookups run concurrently on a compiled state, so a lookup's message
 * never overwrites memory: it is a string literal, or a note -- a message
 * allocated once per distinct text, pushed onto the state's list with an
 * atomic compare-and-swap, and freed only by jit_delete.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

static void set_error(jit_state *j, const char *s)
{
    __atomic_store_n(&j->error, s, __ATOMIC_RELEASE);
}

int jit__fail_static(jit_state *j, int code, const char *literal)
{
    set_error(j, literal);
    return code;
}

int jit__fail(jit_state *j, int code, const char *fmt, ...)
{
    va_list ap;
    int rc;

    /* Point away from message before rewriting it. */
    set_error(j, "");
    jit__buf_clear(&j->message);
    va_start(ap, fmt);
    rc = jit__buf_vprintf(&j->message, fmt, ap);
    va_end(ap);
    if (rc != JIT_OK)
        return jit__fail_static(j, JIT_ENOMEM, "out of memory");
    set_error(j, j->message.data);
    return code;
}

int jit__fail_message(jit_state *j, int code)
{
    set_error(j, jit__buf_str(&j->message));
    return code;
}

int jit__fail_note(jit_state *j, int code, const char *fmt, ...)
{
    char text[320];
    struct jit_note *n, *head;
    va_list ap;
    size_t len;

    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    head = __atomic_load_n(&j->notes, __ATOMIC_ACQUIRE);
    for (n = head; n; n = n->next)
        if (strcmp(n->text, text) == 0)
            return jit__fail_static(j, code, n->text);
    len = strlen(text) + 1;
    if (!(n = malloc(sizeof *n + len)))
        return jit__fail_static(j, code, "out of memory (while reporting "
                                "an error)");
    memcpy(n->text, text, len);
    /* Two threads failing on the same new name may both push it: harmless. */
    n->next = head;
    while (!__atomic_compare_exchange_n(&j->notes, &n->next, n, 0,
                                        __ATOMIC_RELEASE, __ATOMIC_ACQUIRE))
        ;
    return jit__fail_static(j, code, n->text);
}

int jit__succeed(jit_state *j)
{
    set_error(j, "");
    return JIT_OK;
}

void jit__errors_free(jit_state *j)
{
    struct jit_note *n, *next;

    for (n = j->notes; n; n = next) {
        next = n->next;
        free(n);
    }
    j->notes = NULL;
    jit__buf_free(&j->message);
}
