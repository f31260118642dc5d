/*
 * errors.h -- layer 3 of libjit (see the Makefile): the jit_state handle
 * and its error string. errors.c holds the setters every public function
 * uses to say why it failed (or that it succeeded); jit_error reads the
 * result.
 */
#ifndef CX_JIT_ERRORS_H
#define CX_JIT_ERRORS_H

#include <pthread.h>

#include "base.h"

struct TCCState; /* opaque: see tcc.h */

enum jit_phase {
    JIT_PHASE_CONFIGURING, /* jit_new .. jit_compile */
    JIT_PHASE_COMPILED,    /* jit_compile succeeded: code is live */
    JIT_PHASE_FAILED       /* jit_compile failed: only jit_error,
                              jit_diagnostics and jit_delete are useful */
};

/* A lookup failure's message, kept until jit_delete (see jit__fail_note). */
struct jit_note {
    struct jit_note *next;
    char text[];
};

struct jit_state {
    enum jit_phase phase;
    char *runtime_dir;
    struct jit_ops ops;         /* configuration, in call order */
    struct TCCState *tcc;       /* the linked image (JIT_PHASE_COMPILED) */
    struct jit_buf names;       /* NUL-separated names the source defines */
    struct jit_buf diagnostics; /* every compiler message, one per line */
    struct jit_buf message;     /* storage for a formatted jit_error */
    char *preprocessed;         /* jit_preprocess's last text (malloc'd) */
    int have_first_error;       /* message holds the first compiler error */
    /* What jit_error returns: a string literal, message.data or a note's
     * text. Read and written atomically, because lookups (jit_sym,
     * jit_list, jit_function_code, jit_code_line) may run concurrently on
     * a compiled state; those only ever store literals and notes, which
     * never change once published. */
    const char *error;
    struct jit_note *notes;     /* published with atomic stores; freed by
                                   jit__errors_free */
    /* jit_compile_start's compile, on a thread of its own until
     * jit_compile_wait (or jit_delete) joins it */
    int compiling;
    int compile_rc;
    int constructed;            /* the code's constructors ran (destructors then run at jit_delete) */
    char *compile_source;
    pthread_t compiler;
};

/* Set j's error to a string literal (never freed). Returns code. */
int jit__fail_static(jit_state *j, int code, const char *literal);
/* Set j's error to a formatted message. Returns code (JIT_ENOMEM if even
 * the message does not fit in memory). Not for concurrent lookups. */
int jit__fail(jit_state *j, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Set j's error to what j->message holds. Returns code. */
int jit__fail_message(jit_state *j, int code);
/* Set j's error to a formatted message (at most 319 bytes), safe while
 * other threads look up names in j: the message is kept, once per
 * distinct text, until jit_delete. Returns code. */
int jit__fail_note(jit_state *j, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Set j's error to "". Returns JIT_OK. */
int jit__succeed(jit_state *j);
/* Free what the setters keep (jit_delete). */
void jit__errors_free(jit_state *j);

#endif /* CX_JIT_ERRORS_H */
