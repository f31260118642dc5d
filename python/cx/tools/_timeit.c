/*
 * _timeit.c -- the timing loop of cx.timeit (part of cx._speedups).
 *
 * time_loop calls a C function `loops` times between two clock_gettime(CLOCK_MONOTONIC)
 * readings, `runs` times, with the GIL released and inside one crash-guard frame (a crash or an
 * interrupt abandons the whole timing run, as it would a call).
 *
 * One trampoline type serves every prototype: the arguments arrive as the machine passes them,
 * already placed by cx.tools.ctimeit (which classifies each argument by the platform's calling
 * convention): NINT integer registers, NFLT floating-point registers, and up to NSTACK 8-byte
 * words of stack arguments. Declared as extra integer parameters after the integer registers
 * are all used, the stack words land where the callee reads its stack arguments. The loop around
 * the call costs about a nanosecond, as a C caller's would.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "_speedups.h"

#define NINT CX_INT_REGS
#define NFLT CX_FLOAT_REGS
#define NSTACK 16

#if NINT == 8
#define INT_PARAMS uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t
#define INT_ARGS(r) r->i[0], r->i[1], r->i[2], r->i[3], r->i[4], r->i[5], r->i[6], r->i[7]
#else
#define INT_PARAMS uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t
#define INT_ARGS(r) r->i[0], r->i[1], r->i[2], r->i[3], r->i[4], r->i[5]
#endif
#define FLT_PARAMS double, double, double, double, double, double, double, double
#define FLT_ARGS(r) r->f[0], r->f[1], r->f[2], r->f[3], r->f[4], r->f[5], r->f[6], r->f[7]
#define STACK_PARAMS uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, \
                     uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t
#define STACK_ARGS(r) r->s[0], r->s[1], r->s[2], r->s[3], r->s[4], r->s[5], r->s[6], r->s[7], \
                      r->s[8], r->s[9], r->s[10], r->s[11], r->s[12], r->s[13], r->s[14], r->s[15]

typedef uint64_t int_fn(INT_PARAMS, FLT_PARAMS);
typedef double flt_fn(INT_PARAMS, FLT_PARAMS);
typedef long double ld_fn(INT_PARAMS, FLT_PARAMS);
typedef uint64_t int_stack_fn(INT_PARAMS, FLT_PARAMS, STACK_PARAMS);
typedef double flt_stack_fn(INT_PARAMS, FLT_PARAMS, STACK_PARAMS);
typedef long double ld_stack_fn(INT_PARAMS, FLT_PARAMS, STACK_PARAMS);

typedef struct {
    uint64_t i[NINT];
    double f[NFLT];
    uint64_t s[NSTACK];
    int stack; /* any stack words */
    char ret;  /* 'i' integer registers or none, 'd' floating-point registers, 'x' x87 (long double) */
} Call;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* One run; volatile sinks keep the compiler from dropping the calls. */
static double run(void *fn, const Call *r, long loops)
{
    volatile uint64_t si;
    volatile double sd;
    volatile long double sx;
    double t0 = now();
    switch (r->ret + (r->stack ? 256 : 0)) {
    case 'i': for (long k = 0; k < loops; k++) si = ((int_fn *)fn)(INT_ARGS(r), FLT_ARGS(r)); break;
    case 'd': for (long k = 0; k < loops; k++) sd = ((flt_fn *)fn)(INT_ARGS(r), FLT_ARGS(r)); break;
    case 'x': for (long k = 0; k < loops; k++) sx = ((ld_fn *)fn)(INT_ARGS(r), FLT_ARGS(r)); break;
    case 256 + 'i':
        for (long k = 0; k < loops; k++) si = ((int_stack_fn *)fn)(INT_ARGS(r), FLT_ARGS(r), STACK_ARGS(r));
        break;
    case 256 + 'd':
        for (long k = 0; k < loops; k++) sd = ((flt_stack_fn *)fn)(INT_ARGS(r), FLT_ARGS(r), STACK_ARGS(r));
        break;
    case 256 + 'x':
        for (long k = 0; k < loops; k++) sx = ((ld_stack_fn *)fn)(INT_ARGS(r), FLT_ARGS(r), STACK_ARGS(r));
        break;
    }
    (void)si;
    (void)sd;
    (void)sx;
    return now() - t0;
}

/* All runs inside one guard frame; 1 if the guard abandoned them (crash, interrupt). */
static __attribute__((noinline)) int guarded_runs(void *fn, const char *name, const Call *r, long loops,
                                                  long runs, double *seconds)
{
    jit_guard_frame frame;
    if (_setjmp(*(jmp_buf *)&frame)) {
        cx_guard.recover(&frame);
        return 1;
    }
    cx_guard.enter(&frame, name, 0);
    for (long k = 0; k < runs; k++)
        seconds[k] = run(fn, r, loops);
    cx_guard.leave(&frame);
    return 0;
}

static int copy_words(Py_buffer *b, void *into, Py_ssize_t most, const char *what)
{
    if (b->len % 8 || b->len > most * 8) {
        PyErr_Format(PyExc_ValueError, "time_loop: %s must be at most %zd 8-byte words", what, most);
        return -1;
    }
    memcpy(into, b->buf, (size_t)b->len);
    return 0;
}

static PyObject *time_loop(PyObject *module, PyObject *args)
{
    PyObject *address;
    const char *name;
    Py_buffer ints, flts, stack;
    int ret;
    long loops, runs;
    Call r;
    memset(&r, 0, sizeof r);
    if (!PyArg_ParseTuple(args, "Oyy*y*y*Cll", &address, &name, &ints, &flts, &stack, &ret, &loops, &runs))
        return NULL;
    int bad = copy_words(&ints, r.i, NINT, "ints") || copy_words(&flts, r.f, NFLT, "floats") ||
              copy_words(&stack, r.s, NSTACK, "stack");
    r.stack = stack.len > 0;
    PyBuffer_Release(&ints);
    PyBuffer_Release(&flts);
    PyBuffer_Release(&stack);
    if (bad)
        return NULL;
    void *fn = PyLong_AsVoidPtr(address);
    if (!fn) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "time_loop: NULL function address");
        return NULL;
    }
    if (ret != 'i' && ret != 'd' && ret != 'x') {
        PyErr_SetString(PyExc_ValueError, "time_loop: ret must be 'i', 'd' or 'x'");
        return NULL;
    }
    if (loops < 1 || runs < 1) {
        PyErr_SetString(PyExc_ValueError, "time_loop: loops and runs must be >= 1");
        return NULL;
    }
    if (!cx_guard.enter) {
        PyErr_SetString(PyExc_RuntimeError, "time_loop: the crash guard is not set up (cx.runtime.guard.install)");
        return NULL;
    }
    r.ret = (char)ret;
    double *seconds = PyMem_Calloc((size_t)runs, sizeof(double));
    if (!seconds)
        return PyErr_NoMemory();
    int abandoned;
    Py_BEGIN_ALLOW_THREADS
    abandoned = guarded_runs(fn, name, &r, loops, runs, seconds);
    Py_END_ALLOW_THREADS
    PyObject *out = NULL;
    if (abandoned) {
        /* KeyboardInterrupt for SIGINT; a crash's CrashError is pending on this thread and raised
         * by the interpreter right after this returns (as for a call, see _call.c) */
        if (PyErr_CheckSignals() == 0)
            out = Py_NewRef(Py_None);
    } else {
        out = PyList_New(runs);
        for (long k = 0; out && k < runs; k++) {
            PyObject *x = PyFloat_FromDouble(seconds[k]);
            if (!x)
                Py_CLEAR(out);
            else
                PyList_SET_ITEM(out, k, x);
        }
    }
    PyMem_Free(seconds);
    return out;
}

static PyMethodDef timeit_methods[] = {
    {"time_loop", time_loop, METH_VARARGS,
     "time_loop(address, name, ints, floats, stack, ret, loops, runs): seconds of each run of "
     "`loops` calls of the C function at address, its arguments placed in registers and stack "
     "words (bytes of 8-byte words); None when the guard abandoned the run (the exception follows)."},
    {NULL}};

int cx_timeit_init(PyObject *m)
{
    if (PyModule_AddFunctions(m, timeit_methods) < 0 || PyModule_AddIntConstant(m, "TIMEIT_INT_REGS", NINT) < 0 ||
        PyModule_AddIntConstant(m, "TIMEIT_FLOAT_REGS", NFLT) < 0 ||
        PyModule_AddIntConstant(m, "TIMEIT_STACK_WORDS", NSTACK) < 0)
        return -1;
    return 0;
}
