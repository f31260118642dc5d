/*
 * tcc.h -- layer 2 of libjit (see the Makefile): TinyCC itself. tcc.c is
 * the only file that includes libtcc.h; everything above drives TinyCC
 * through these calls and never sees libtcc's types (a TCCState is an
 * opaque struct here).
 *
 * What lives in tcc.c:
 *   - the process-wide TinyCC lock (TinyCC's compiler is one global state);
 *   - every difference between libtcc versions (relocate's arguments,
 *     set_options' result, where preprocessed text goes, the name of the
 *     internal error function, whether states take a backtrace callback);
 *   - the backtrace callback set on every state, which answers source-line
 *     lookups (jit__tcc_line_of) itself and hands every other report (the
 *     bounds checker's messages) to the handler given to
 *     jit__tcc_catch_backtraces;
 *   - ending a compile in progress from outside (jit__tcc_escape, for the
 *     guard's handlers when TinyCC itself crashes).
 */
#ifndef CX_JIT_TCC_H
#define CX_JIT_TCC_H

#include <stdint.h>
#include <stdio.h>

#include "base.h"

struct TCCState; /* libtcc's; opaque above this layer */

/* The process-wide lock around TinyCC: held from jit__tcc_new to
 * jit__tcc_relocate, around jit__tcc_delete, and around line lookups. Not
 * recursive. */
void jit__lock(void);
void jit__unlock(void);

/* ---- one state, call by call (lock held unless said otherwise) ------ */

/* tcc_new; NULL when out of memory. */
struct TCCState *jit__tcc_new(void);
/* tcc_new for a state whose preprocessed output goes to out instead of
 * stdout (see tcc.c for how). */
struct TCCState *jit__tcc_new_preprocessor(FILE *out);
/* tcc_delete. NULL is a no-op. */
void jit__tcc_delete(struct TCCState *s);

/* TinyCC's diagnostics callback (runs inside tcc calls). */
typedef void jit__tcc_message_fn(void *opaque, const char *msg);
void jit__tcc_on_message(struct TCCState *s, void *opaque, jit__tcc_message_fn *fn);

/* What TinyCC's run-time reports through its backtrace (a bounds checker
 * message with its first frame, then one call per frame up the stack).
 * Return 0 to stop the walk. Runs in compiled code's thread, no lock. */
typedef int jit__tcc_report_fn(void *pc, const char *file, int line,
                               const char *func, const char *msg);
/* Route s's backtraces through tcc.c (which answers jit__tcc_line_of) and
 * the rest to handler (one for the process: the last one given). A no-op
 * with a libtcc that has no backtrace callback (before 2024). */
void jit__tcc_catch_backtraces(struct TCCState *s, jit__tcc_report_fn *handler);

void jit__tcc_set_lib_path(struct TCCState *s, const char *dir);
/* tcc_set_options with one token; 0 also when the libtcc cannot tell. */
int jit__tcc_set_options(struct TCCState *s, const char *options);
void jit__tcc_add_include_path(struct TCCState *s, const char *dir);
void jit__tcc_add_sysinclude_path(struct TCCState *s, const char *dir);
void jit__tcc_add_library_path(struct TCCState *s, const char *dir);
void jit__tcc_define(struct TCCState *s, const char *name, const char *value);
void jit__tcc_undefine(struct TCCState *s, const char *name);
/* tcc_set_output_type: memory (preprocess 0) or preprocessed text (1).
 * 0 on success. */
int jit__tcc_set_output(struct TCCState *s, int preprocess);
/* 0 on success, else -1. */
int jit__tcc_add_symbol(struct TCCState *s, const char *name, const void *addr);
int jit__tcc_compile_string(struct TCCState *s, const char *source);
int jit__tcc_add_library(struct TCCState *s, const char *name);
/* tcc_relocate; 0 on success. Also remembers TinyCC's line lookup when s
 * has one (linked with -b or -bt), for jit__tcc_line_of. */
int jit__tcc_relocate(struct TCCState *s);

/* ---- a linked state (no lock: read-only) ----------------------------- */

void *jit__tcc_get_symbol(struct TCCState *s, const char *name);
/* tcc_list_symbols: fn(ctx, name, value) for every global symbol. */
void jit__tcc_list_symbols(struct TCCState *s, void *ctx,
                           void (*fn)(void *ctx, const char *name, const void *val));

/* The ELF symbol table (ElfW(Sym) entries in [*start, *end)) and its
 * string table that TinyCC keeps in memory for s when linked with -b or
 * -bt. 0, or -1 when s has none. */
int jit__tcc_elf_symbols(struct TCCState *s, const void **start,
                         const void **end, const char **names);

/* ---- across states --------------------------------------------------- */

/* The source line of pc through the line tables of every state linked
 * with -b or -bt (0 if none knows it); file and func get its file and
 * function. Lock held; pc must be in live compiled code (else TinyCC
 * prints "???" to stderr). */
int jit__tcc_line_of(uintptr_t pc, char *file, size_t file_size,
                     char *func, size_t func_size);

/* End the compile running in this thread with message as a compiler error
 * (TinyCC's own error path: a longjmp to the compile's handler, which
 * cleans up). Returns only when TinyCC is not inside a compile. For the
 * guard's signal handlers, which compile.c hands it as their escape. */
void jit__tcc_escape(const char *message);

#endif /* CX_JIT_TCC_H */
