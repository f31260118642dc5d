/*
 * internal.h -- libjit's private declarations, shared between its files.
 *
 * Nothing declared here is exported: the library is built with
 * -fvisibility=hidden and only JIT_API functions (jit.h) are visible.
 * Cross-file internals are prefixed jit__.
 */
#ifndef CX_JIT_INTERNAL_H
#define CX_JIT_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#include "jit.h"

struct TCCState; /* libtcc's, only compile.c, compat.c and code.c include libtcc.h */

/* ---- growable strings (buffers.c) ----------------------------------- */

/* A NUL-terminated growable string. data is NULL until the first append. */
struct jit_buf {
    char *data;
    size_t len, cap;
    int truncated; /* an append failed for lack of memory */
};

/* Append n bytes of s and keep the buffer NUL-terminated. JIT_OK or
 * JIT_ENOMEM (then the buffer is unchanged and truncated is set). */
int jit__buf_append(struct jit_buf *b, const char *s, size_t n);
/* printf-style append. JIT_OK or JIT_ENOMEM. */
int jit__buf_vprintf(struct jit_buf *b, const char *fmt, va_list ap);
int jit__buf_printf(struct jit_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void jit__buf_clear(struct jit_buf *b); /* keeps the memory */
void jit__buf_free(struct jit_buf *b);
/* The contents, or "" when empty. */
const char *jit__buf_str(const struct jit_buf *b);

/* ---- recorded configuration (buffers.c) ----------------------------- */

/* Configuration calls only record what to do; jit_compile applies the
 * records to a fresh TCCState, in the order TinyCC needs (compile.c). */
enum jit_op_kind {
    JIT_OP_OPTION,      /* name: one whitelisted option token, e.g. "-Wall" */
    JIT_OP_INCLUDE,     /* name: directory */
    JIT_OP_SYSINCLUDE,  /* name: directory */
    JIT_OP_LIBRARY_DIR, /* name: directory */
    JIT_OP_LIBRARY,     /* name: as for -l */
    JIT_OP_DEFINE,      /* name, value (NULL: defined to 1) */
    JIT_OP_UNDEFINE,    /* name */
    JIT_OP_SYMBOL       /* name, addr */
};

struct jit_op {
    enum jit_op_kind kind;
    char *name;
    char *value;
    const void *addr;
};

struct jit_ops {
    struct jit_op *items;
    size_t count, cap;
};

/* Append a record; name and value are copied. JIT_OK or JIT_ENOMEM. */
int jit__ops_push(struct jit_ops *ops, enum jit_op_kind kind,
                  const char *name, const char *value, const void *addr);
/* Move every record of src to the end of dst (src is left empty).
 * JIT_OK or JIT_ENOMEM (then both are unchanged). */
int jit__ops_splice(struct jit_ops *dst, struct jit_ops *src);
void jit__ops_free(struct jit_ops *ops);

/* ---- the state ------------------------------------------------------ */

enum jit_phase {
    JIT_PHASE_CONFIGURING, /* jit_new .. jit_compile */
    JIT_PHASE_COMPILED,    /* jit_compile succeeded: code is live */
    JIT_PHASE_FAILED       /* jit_compile failed: only jit_error,
                              jit_diagnostics and jit_delete are useful */
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
    /* What jit_error returns: a string literal or message.data. Read and
     * written atomically, because jit_sym/jit_list may run concurrently
     * on a compiled state; those only ever store string literals. */
    const char *error;
};

/* Set j's error to a string literal (never freed). Returns code. */
int jit__fail_static(jit_state *j, int code, const char *literal);
/* Set j's error to a formatted message. Returns code (JIT_ENOMEM if even
 * the message does not fit in memory). */
int jit__fail(jit_state *j, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Set j's error to what j->message holds. Returns code. */
int jit__fail_message(jit_state *j, int code);
/* Set j's error to "". Returns JIT_OK. */
int jit__succeed(jit_state *j);

/* ---- option whitelist (options.c) ----------------------------------- */

/* Parse a space-separated option string (quoted like TinyCC's own
 * parser: "..." groups, \" and \\ escape). Every token is checked before
 * anything is kept: on success the records for all tokens are appended to
 * out; on failure out is untouched, why holds the reason and JIT_EOPTION
 * (or JIT_ENOMEM) is returned. -D/-U/-I become DEFINE/UNDEFINE/INCLUDE
 * records (so they keep their order with jit_define & co.); the other
 * accepted tokens become OPTION records holding the bare token. */
int jit__parse_options(const char *options, struct jit_ops *out,
                       struct jit_buf *why);

/* Whether name is a valid macro name for jit_define/-D ("N" or "F(a,b)").
 * Returns NULL if valid, else a short reason. */
const char *jit__check_define_name(const char *name);

/* ---- compile driver (compile.c) ------------------------------------- */

/* The process-wide lock around TinyCC (tcc_new .. tcc_relocate, and
 * tcc_delete). Not recursive. */
void jit__lock(void);
void jit__unlock(void);

/* jit_compile's work on a JIT_PHASE_CONFIGURING state with a non-NULL
 * source. Sets phase, error and diagnostics. */
int jit__compile(jit_state *j, const char *source);
/* Run a linked image's destructors (no lock: user code). */
void jit__run_destructors(struct TCCState *s);
/* Free the TinyCC state (under the lock). NULL is a no-op. */
void jit__tcc_delete(struct TCCState *s);
/* tcc_get_symbol on a linked image (no lock: read-only). */
void *jit__tcc_get_symbol(struct TCCState *s, const char *name);

/* ---- system directories (paths.c) ----------------------------------- */

/* Directories libjit adds after TinyCC's own defaults: the multiarch
 * include directory and the system library directories that exist. Found
 * once per process; static storage. */
struct jit_system_paths {
    const char *triplet; /* e.g. "x86_64-linux-gnu", or "" if none found */
    const char *const *sysinclude; /* NULL-terminated */
    const char *const *library;    /* NULL-terminated */
};
const struct jit_system_paths *jit__system_paths(void);

/* ---- runtime helpers for compiled code (runtime.c) ------------------ */

/* One helper handed to compiled code with tcc_add_symbol. Names start with
 * "__cx_"; tables end with { NULL, NULL }. */
struct jit_runtime_symbol {
    const char *name;
    const void *addr;
};
extern const struct jit_runtime_symbol jit__guard_symbols[]; /* guard.c */
extern const struct jit_runtime_symbol jit__tls_symbols[];   /* tls.c */

/* ---- guarded calls (guard.c) ---------------------------------------- */

/* What the bounds checker reports, through TinyCC's backtrace (msg with
 * the first frame, then one call per frame up the stack): kept for the
 * running guarded call's report, printed outside one. Returns 0 to stop
 * the walk. */
int jit__guard_checker(void *pc, const char *file, int line, const char *func,
                       const char *msg);
/* exit() for code compiled with -b (the bounds checker calls it on some
 * errors): abandons the running guarded call, or exits if there is none. */
void jit__guard_exit(int status);
/* Bracket tcc_compile_string: a fatal signal in this thread meanwhile (a
 * TinyCC bug, e.g. on a truncated source) becomes a compile error, through
 * jit__tcc_fail_compile, when the guard's handlers are installed. */
void jit__guard_compiling(int on);
/* compile.c: whether TinyCC is inside a compile (its global state is set),
 * and end that compile with an error message (TinyCC's own error path:
 * longjmp to the compile's error handler, which cleans up). */
int jit__tcc_compiling(void);
void jit__tcc_fail_compile(const char *message);

/* ---- where code is, and where it crashed (where.c) ------------------ */

/* Copy src (NULL: "") into dst[size], truncated, NUL-terminated. */
void jit__copy(char *dst, size_t size, const char *src);
/* Whether pc is in registered compiled code. Async-signal-safe. */
int jit__in_code(uintptr_t pc);
/* Find libc's code (once; jit_guard_install calls it). */
void jit__where_init(void);
/* In a signal handler: whether the thread was interrupted at a system call
 * of libc called straight from compiled code (only libc frames between). */
int jit__in_libc_syscall(uintptr_t pc);
/* In a signal handler: the return addresses into compiled code on the
 * interrupted stack, innermost first; at most max. Returns the count. */
int jit__code_callers(uintptr_t *out, int max);
/* The source line of pc in registered code, 0 if unknown (needs -b/-bt);
 * file and func get its file and function. Takes jit__lock. */
int jit__source_line(uintptr_t pc, char *file, size_t file_size,
                     char *func, size_t func_size);
/* The file name (without directory) of the shared object holding pc. */
void jit__library_of(const void *pc, char *out, size_t size);
/* TinyCC's backtrace callback (a TCCBtFunc), set on every state: answers
 * jit__source_line, and passes everything else to jit__guard_checker. */
int jit__guard_backtrace(void *udata, void *pc, const char *file, int line,
                         const char *func, const char *msg);
/* TinyCC's internal _tcc_backtrace (found in any state linked with -b or
 * -bt), which maps a pc to file:line through every such state's line
 * tables. NULL is ignored. */
void jit__guard_set_backtracer(void *fn);

/* Call fn for every runtime helper of every table. */
void jit__runtime_each(void (*fn)(void *ctx, const char *name, const void *addr), void *ctx);
/* Whether name is one of the runtime helpers (never listed by jit_list). */
int jit__is_runtime_symbol(const char *name);

/* ---- libtcc version differences (compat.c) -------------------------- */

int jit__tcc_relocate(struct TCCState *s);
/* tcc_set_options; returns 0 when the libtcc cannot tell (void API). */
int jit__tcc_set_options(struct TCCState *s, const char *options);
/* tcc_new for a state whose preprocessed output (TCC_OUTPUT_PREPROCESS)
 * goes to out instead of stdout. Called with jit__lock held. */
struct TCCState *jit__tcc_new_preprocessor(FILE *out);

/* ---- preprocessing (compile.c) -------------------------------------- */

/* Preprocess source as jit__compile would compile it; *text (malloc'd,
 * NUL-terminated) and *len on success, else an error code (j's error and
 * diagnostics set). */
int jit__preprocess(jit_state *j, const char *source, char **text,
                    size_t *len);

#endif /* CX_JIT_INTERNAL_H */
