/* _speedups.h -- the parts of cx._speedups, cx's own C built with the package (setup.py).
 *
 * One extension module, its parts in the folders of their jobs:
 *   bind/_convert.c    argument converters (PointerArg, IntArg, FloatArg), closed_trap
 *   bind/_call.c       the call slot of bound functions (CallSpec, fast_class, attach, detach)
 *   runtime/_native.c  Python's SIGINT handler while cx is loaded, and the C stdio capture writer
 *   tools/_timeit.c    the timing loop of cx.timeit
 *   build/_libraries.c which names a shared library defines itself (cx.include)
 * _speedups.c holds the module and libjit's guard entry points, which the parts share. Nothing
 * here is compiled at run time, and none of it goes through cx.compile.
 */
#ifndef CX_SPEEDUPS_H
#define CX_SPEEDUPS_H
#include <Python.h>

#include "jit.h" /* jit_guard_frame, JIT_GUARD_HOST_API (the functions come from cx._jit) */

/* The argument registers of the C calling convention (x86-64 System V, AArch64): integer and
 * floating-point registers, each class filled in order. The call slot and the timing loop pass
 * every register of both classes, so one call fits every prototype of register arguments. */
#if defined(__aarch64__)
#define CX_INT_REGS 8
#else
#define CX_INT_REGS 6
#endif
#define CX_FLOAT_REGS 8

/* libjit's guard functions, by address (cx.runtime.guard hands them over with set_guard_api:
 * libjit is loaded with ctypes, not linked). enter is NULL until then. */
struct cx_guard_api {
    void (*enter)(jit_guard_frame *, const char *, int);
    void (*leave)(jit_guard_frame *);
    void (*recover)(jit_guard_frame *);
    void *(*suspend)(void);
    void (*resume)(void *);
};
extern struct cx_guard_api cx_guard;

/* runtime/_native.c: set while C output waits to be settled when a bound call returns; the call
 * slot then calls cx_output_settle (with the GIL; an exception already set is kept). */
extern int cx_output_pending;
void cx_output_settle(void);

/* Each part adds its types and functions to module m: 0, or -1 with an exception set. */
int cx_convert_init(PyObject *m);
int cx_call_init(PyObject *m);
int cx_native_init(PyObject *m);
int cx_timeit_init(PyObject *m);
int cx_libraries_init(PyObject *m);

#endif
