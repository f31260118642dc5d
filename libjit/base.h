/*
 * base.h -- layer 1 of libjit (see the Makefile for the layers): plain
 * containers and parsers that know nothing of TinyCC or of a jit_state.
 *
 *   buffers.c  growable strings, the list of recorded configuration steps
 *   options.c  the option whitelist behind jit_set_options
 *   paths.c    the system include and library directories TinyCC misses
 *
 * Nothing declared in libjit's private headers is exported: the library is
 * built with -fvisibility=hidden and only JIT_API functions (jit.h) are
 * visible. Cross-file internals are prefixed jit__.
 */
#ifndef CX_JIT_BASE_H
#define CX_JIT_BASE_H

#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#include "jit.h"

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
 * records to a fresh TinyCC state, in the order TinyCC needs (compile.c). */
enum jit_op_kind {
    JIT_OP_OPTION,      /* name: one whitelisted option token, e.g. "-Wall" */
    JIT_OP_INCLUDE,     /* name: directory */
    JIT_OP_SYSINCLUDE,  /* name: directory */
    JIT_OP_LIBRARY_DIR, /* name: directory */
    JIT_OP_LIBRARY,     /* name: as for -l */
    JIT_OP_DEFINE,      /* name, value (NULL: defined to 1) */
    JIT_OP_UNDEFINE,    /* name */
    JIT_OP_SYMBOL,      /* name, addr */
    JIT_OP_UNIT         /* name: the source of another translation unit */
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

/* ---- small things (buffers.c) --------------------------------------- */

/* Copy src (NULL: "") into dst[size], truncated, NUL-terminated. */
void jit__copy(char *dst, size_t size, const char *src);

#endif /* CX_JIT_BASE_H */
