/*
 * _call.c -- cx's own call slot for bound functions (compiled into cx._speedups).
 *
 * A bound function stays a ctypes function object (an instance of its own subclass of
 * ctypes._CFuncPtr: argtypes, restype, cast, usable as a function pointer), but calling it
 * goes through this file: fast_class() gives the per-function class a vectorcall slot, and
 * attach() points the instance at a CallSpec describing its parameters. A call then
 *
 *   1. converts each Python argument straight to a C value (range-checked integers, real
 *      numbers, numpy arrays and other buffers checked by the parameter's PointerArg, None
 *      for NULL, PyObject * for hold_gil functions),
 *   2. releases the GIL (unless hold_gil),
 *   3. enters the crash guard itself (libjit's jit_guard_enter, with a _setjmp jump point in
 *      guarded_call below: no generated C wrapper per function),
 *   4. calls the function through one trampoline for every signature of up to 6 (AArch64: 8)
 *      integer-class and 8 floating-point parameters (x86-64 System V and AArch64 pass each
 *      class in its own registers, in order, so a call with all of them set fits every such
 *      prototype), and
 *   5. converts the result.
 *
 * A pointer argument other than None and a numpy array of a dtype the parameter accepted before
 * goes through the parameter's converter (its from_param); the result is used when it is a plain
 * address (c_void_p, c_char_p, a cx handle). numpy arrays are read from numpy's array struct,
 * whose layout is checked against the buffer protocol on the first array.
 *
 * Anything this path does not recognise -- a struct by value, a callback, long double, an
 * argument the converters turn into something else than an address (byref(), ctypes arrays,
 * lists), a numpy scalar, an out-of-range integer, an errcheck -- goes to ctypes' own call, still inside a guard frame entered here. ctypes then
 * converts again and reports errors exactly as before (ArgumentError naming the argument and
 * the function), because the converters it calls are the same objects. A wrong argument count
 * or a keyword argument is refused here, as Python refuses them, naming the function and its
 * parameters (ctypes would say "this function takes at least 2 arguments", and pass extra
 * arguments on to C).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include "jit.h" /* jit_guard_frame, JIT_GUARD_HOST_API (the functions come from cx._jit) */
#include "_speedups.h"

#if (defined(__x86_64__) && !defined(_WIN32)) || defined(__aarch64__)
#define HAVE_TRAMPOLINE 1
#else
#define HAVE_TRAMPOLINE 0
#endif
#define NINT CX_INT_REGS
#define NFLT CX_FLOAT_REGS
#define MAXARGS (NINT + NFLT)
#define NDESCR 4

#if PY_VERSION_HEX >= 0x030D0000
#define current_tstate() PyThreadState_GetUnchecked()
#else
#define current_tstate() _PyThreadState_UncheckedGet()
#endif

/* libjit's guard entry points: cx_guard (_speedups.h), set by set_guard_api. */
#define guard_enter cx_guard.enter
#define guard_leave cx_guard.leave
#define guard_recover cx_guard.recover

static PyTypeObject *ctypes_funcptr_type; /* ctypes._CFuncPtr: its tp_call is ctypes' call */
static PyObject *c_void_p_cls, *c_char_p_cls;
static PyObject *from_param_name, *errcheck_name;

/* numpy.ndarray, once seen and its layout checked (see learn_ndarray). */
static PyTypeObject *ndarray_type;
static int ndarray_checked; /* 0: not yet, 1: layout as expected, -1: do not use */
#define ND_DATA(o) (*(char **)((char *)(o) + sizeof(PyObject)))
#define ND_DESCR(o) (*(PyObject **)((char *)(o) + sizeof(PyObject) + 5 * sizeof(void *)))
#define ND_FLAGS(o) (*(int *)((char *)(o) + sizeof(PyObject) + 6 * sizeof(void *)))
#define NPY_C_CONTIGUOUS 0x0001
#define NPY_WRITEABLE 0x0400

/* ---- the per-function description --------------------------------------------------------- */

typedef struct {
    char kind;      /* 'i' signed, 'u' unsigned, 'b' _Bool, 'f' float, 'd' double, 'p' pointer,
                       'O' object */
    char bits;      /* integers: 8, 16, 32 or 64 */
    char writable;  /* pointers: the pointee is not const */
    char fp;        /* passed in a floating-point register */
    PyObject *converter; /* pointers: the PointerArg (from_param) */
    PyObject *descr[NDESCR]; /* pointers: numpy dtypes the converter accepted */
    int ndescr;
    PyObject *ptype[NDESCR]; /* pointers: c_void_p subclasses (cx handles) it passed as they are */
    int nptype;
} ArgSpec;

typedef struct {
    PyObject_HEAD
    void *address;
    PyObject *name;   /* bytes, for the guard's reports */
    PyObject *signature; /* str "f(a: int, b: double)" for argument errors, or NULL: ctypes says */
    int nargs;
    int fast;         /* 0: every call goes to ctypes */
    int guarded;
    int hold_gil;
    char ret;         /* 'v', 'i', 'u', '?', 'f', 'd', 'p', 'O', 'H' (an instance of ret_cls),
                         'E' (an int made a member of the enum class ret_cls when it is one) */
    char ret_bits;
    PyObject *ret_cls; /* 'H': the pointer type of the result (NULL is None); 'E': the enum class */
    PyObject *variadic; /* a variadic function: converts a call's arguments past the fixed ones */
    ArgSpec *args;
} CallSpec;

/* The two pointers fast_class adds at the end of each instance. */
typedef struct {
    vectorcallfunc call;
    CallSpec *spec; /* borrowed: the instance's __dict__ holds it (_cx_call) */
} Extra;

#define EXTRA(o) ((Extra *)((char *)(o) + Py_TYPE(o)->tp_vectorcall_offset))

static void CallSpec_dealloc(CallSpec *self)
{
    PyObject_GC_UnTrack(self);
    if (self->args) {
        for (int i = 0; i < self->nargs; i++) {
            Py_CLEAR(self->args[i].converter);
            for (int k = 0; k < self->args[i].ndescr; k++)
                Py_CLEAR(self->args[i].descr[k]);
            for (int k = 0; k < self->args[i].nptype; k++)
                Py_CLEAR(self->args[i].ptype[k]);
        }
        PyMem_Free(self->args);
    }
    Py_CLEAR(self->name);
    Py_CLEAR(self->signature);
    Py_CLEAR(self->ret_cls);
    Py_CLEAR(self->variadic);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int CallSpec_traverse(CallSpec *self, visitproc visit, void *arg)
{
    if (self->args)
        for (int i = 0; i < self->nargs; i++)
            Py_VISIT(self->args[i].converter);
    Py_VISIT(self->variadic);
    return 0;
}

static int CallSpec_clear_refs(CallSpec *self)
{
    if (self->args)
        for (int i = 0; i < self->nargs; i++)
            Py_CLEAR(self->args[i].converter);
    Py_CLEAR(self->variadic);
    self->fast = 0;
    return 0;
}

/*
 * CallSpec(address, name, params, result, guarded, hold_gil, signature=None, variadic=None)
 *   signature: "f(a: int, b: double)", named by the error of a call with a wrong argument count
 *   or keyword arguments (None: such calls go to ctypes, e.g. a variadic function);
 *   variadic: for a function ending in "...", a callable that converts a call's arguments tuple
 *   (the extra ones as C's default argument promotions pass them); such calls go to ctypes;
 *   params: a sequence of (kind, bits, writable, converter) per parameter; kind 'x' for one the
 *   fast path does not convert (every call then goes to ctypes);
 *   result: (kind, bits), ('H', 0, pointer_class) or ('E', bits, enum_class), kind 'x' likewise.
 */
static int CallSpec_init(CallSpec *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"address", "name", "params", "result", "guarded", "hold_gil", "signature",
                             "variadic", NULL};
    PyObject *address, *name, *params, *result, *signature = Py_None, *variadic = Py_None;
    int guarded, hold_gil;
    if (self->args) {
        PyErr_SetString(PyExc_TypeError, "CallSpec is initialised once");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OSOOpp|OO", kwlist, &address, &name, &params, &result,
                                     &guarded, &hold_gil, &signature, &variadic))
        return -1;
    if (signature != Py_None && !PyUnicode_Check(signature)) {
        PyErr_SetString(PyExc_TypeError, "CallSpec: signature must be a str or None");
        return -1;
    }
    if (variadic != Py_None && !PyCallable_Check(variadic)) {
        PyErr_SetString(PyExc_TypeError, "CallSpec: variadic must be callable or None");
        return -1;
    }
    self->address = PyLong_AsVoidPtr(address);
    if (!self->address && PyErr_Occurred())
        return -1;
    PyObject *seq = PySequence_Fast(params, "params must be a sequence");
    if (!seq)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    self->args = PyMem_Calloc(n ? n : 1, sizeof(ArgSpec));
    if (!self->args) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    self->nargs = (int)n;
    self->name = Py_NewRef(name);
    self->signature = signature == Py_None ? NULL : Py_NewRef(signature);
    self->guarded = guarded;
    self->hold_gil = hold_gil;
    int fast = HAVE_TRAMPOLINE, nint = 0, nflt = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        ArgSpec *a = &self->args[i];
        int kind, bits, writable;
        PyObject *conv;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "CipO", &kind, &bits, &writable, &conv)) {
            Py_DECREF(seq);
            return -1;
        }
        a->kind = (char)kind;
        a->bits = (char)bits;
        a->writable = (char)writable;
        a->converter = Py_NewRef(conv);
        a->fp = kind == 'f' || kind == 'd';
        if (a->fp)
            nflt++;
        else
            nint++;
        if (!strchr("iubfdpO", kind) || ((kind == 'i' || kind == 'u') && bits != 8 && bits != 16 &&
                                        bits != 32 && bits != 64))
            fast = 0;
    }
    Py_DECREF(seq);
    int rkind, rbits;
    PyObject *rcls = NULL;
    if (!PyArg_ParseTuple(result, "Ci|O", &rkind, &rbits, &rcls))
        return -1;
    self->ret = (char)rkind;
    self->ret_bits = (char)rbits;
    if (rkind == 'H' || rkind == 'E') {
        if (!rcls || !PyType_Check(rcls)) {
            PyErr_SetString(PyExc_TypeError, "CallSpec: an 'H' or 'E' result needs its class");
            return -1;
        }
        self->ret_cls = Py_NewRef(rcls);
    }
    if (!strchr("viu?fdpOHE", rkind) || (rkind == 'E' && rbits != 32) || ((rkind == 'i' || rkind == 'u') && rbits != 8 && rbits != 16 &&
                                       rbits != 32 && rbits != 64))
        fast = 0;
    if (nint > NINT || nflt > NFLT)
        fast = 0; /* some would go on the stack */
    if (variadic != Py_None) {
        self->variadic = Py_NewRef(variadic);
        fast = 0; /* ctypes (libffi) makes variadic calls: the vector-register count in %al */
    }
    self->fast = fast;
    return 0;
}

static PyObject *CallSpec_get_fast(CallSpec *self, void *closure)
{
    return PyBool_FromLong(self->fast);
}

static PyGetSetDef CallSpec_getset[] = {
    {"fast", (getter)CallSpec_get_fast, NULL,
     "True when calls convert their arguments and call the C function here; False when every "
     "call goes through ctypes (still guarded).", NULL},
    {NULL}};

static PyTypeObject CallSpec_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cx._speedups.CallSpec",
    .tp_basicsize = sizeof(CallSpec),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "CallSpec(address, name, params, result, guarded, hold_gil, signature=None, variadic=None): how "
              "cx calls one bound "
              "function (internal; see cx/_call.c).",
    .tp_init = (initproc)CallSpec_init,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)CallSpec_dealloc,
    .tp_traverse = (traverseproc)CallSpec_traverse,
    .tp_clear = (inquiry)CallSpec_clear_refs,
    .tp_getset = CallSpec_getset,
};

/* ---- the guarded call ----------------------------------------------------------------------- */

typedef uint64_t int_tramp(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t,
#if NINT == 8
                           uint64_t, uint64_t,
#endif
                           double, double, double, double, double, double, double, double);
typedef double flt_tramp(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t,
#if NINT == 8
                         uint64_t, uint64_t,
#endif
                         double, double, double, double, double, double, double, double);

typedef struct {
    uint64_t i[NINT];
    double f[NFLT];
    union { uint64_t i; double f; } result;
} Regs;

#if NINT == 8
#define INTS(r) r->i[0], r->i[1], r->i[2], r->i[3], r->i[4], r->i[5], r->i[6], r->i[7]
#else
#define INTS(r) r->i[0], r->i[1], r->i[2], r->i[3], r->i[4], r->i[5]
#endif
#define FLTS(r) r->f[0], r->f[1], r->f[2], r->f[3], r->f[4], r->f[5], r->f[6], r->f[7]

/* Call the function with r's registers; 1 if the guard abandoned the call (crash, SIGINT). Its
 * own function, so nothing the jump point needs lives in a register the call may change. */
static __attribute__((noinline)) int guarded_call(CallSpec *s, Regs *r, int fp_result)
{
    jit_guard_frame frame;
    if (_setjmp(*(jmp_buf *)&frame)) {
        guard_recover(&frame);
        return 1;
    }
    guard_enter(&frame, PyBytes_AS_STRING(s->name), s->hold_gil ? JIT_GUARD_HOST_API : 0);
    if (fp_result)
        r->result.f = ((flt_tramp *)s->address)(INTS(r), FLTS(r));
    else
        r->result.i = ((int_tramp *)s->address)(INTS(r), FLTS(r));
    guard_leave(&frame);
    return 0;
}

static void plain_call(CallSpec *s, Regs *r, int fp_result)
{
    if (fp_result)
        r->result.f = ((flt_tramp *)s->address)(INTS(r), FLTS(r));
    else
        r->result.i = ((int_tramp *)s->address)(INTS(r), FLTS(r));
}

/* ctypes' own call inside a guard frame. 1 if the guard abandoned it (the GIL is then held
 * again, whatever ctypes had done with it). ctypes converts the arguments (and runs an errcheck)
 * inside the frame, in Python code: an interrupt never stops it there, since libjit stops a call
 * only in compiled code, or in a system call reached from compiled code through libc alone (it
 * unwinds the stack to check; see jit__in_libc_syscall in libjit/where.c). */
static __attribute__((noinline)) int guarded_ctypes(CallSpec *s, PyObject *callable, PyObject *args,
                                                    PyObject *kwargs, PyObject **out)
{
    jit_guard_frame frame;
    PyThreadState *volatile tstate = PyThreadState_Get();
    if (_setjmp(*(jmp_buf *)&frame)) {
        guard_recover(&frame);
        if (current_tstate() != tstate)
            PyEval_RestoreThread(tstate); /* ctypes had released the GIL */
        return 1;
    }
    guard_enter(&frame, PyBytes_AS_STRING(s->name), s->hold_gil ? JIT_GUARD_HOST_API : 0);
    *out = ctypes_funcptr_type->tp_call(callable, args, kwargs);
    guard_leave(&frame);
    return 0;
}

/* After an abandoned call: KeyboardInterrupt for SIGINT; a crash's CrashError is already pending
 * (set on this thread by cx.guard's notify callback) and raised by the interpreter right after
 * the call returns, like for any asynchronous exception. */
static int after_abandoned(void)
{
    return PyErr_CheckSignals();
}

/* ---- ctypes' path ------------------------------------------------------------------------- */

static PyObject *generic_call(PyObject *callable, CallSpec *s, PyObject *const *args, Py_ssize_t n,
                              PyObject *kwnames)
{
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    PyObject *tuple = PyTuple_New(n), *kwargs = NULL, *result = NULL;
    if (!tuple)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++)
        PyTuple_SET_ITEM(tuple, i, Py_NewRef(args[i]));
    if (s && s->variadic && n > s->nargs) { /* the extra arguments as C's default promotions pass them */
        PyObject *converted = PyObject_CallOneArg(s->variadic, tuple);
        Py_DECREF(tuple);
        if (!converted)
            return NULL;
        if (!PyTuple_Check(converted)) {
            Py_DECREF(converted);
            PyErr_SetString(PyExc_TypeError, "CallSpec: variadic must return a tuple");
            return NULL;
        }
        tuple = converted;
    }
    if (nkw) {
        kwargs = PyDict_New();
        for (Py_ssize_t i = 0; kwargs && i < nkw; i++)
            if (PyDict_SetItem(kwargs, PyTuple_GET_ITEM(kwnames, i), args[n + i]) < 0)
                Py_CLEAR(kwargs);
        if (!kwargs) {
            Py_DECREF(tuple);
            return NULL;
        }
    }
    if (!s || !s->guarded || !guard_enter) {
        result = ctypes_funcptr_type->tp_call(callable, tuple, kwargs);
        if (cx_output_pending)
            cx_output_settle();
    } else if (guarded_ctypes(s, callable, tuple, kwargs, &result)) {
        /* As if the function had returned zero: its errcheck (if any) still runs, so an
         * exception a Python callback raised during the call is raised now. */
        result = NULL;
        int rc = after_abandoned();
        if (cx_output_pending)
            cx_output_settle();
        if (rc == 0) {
            PyObject *check = PyObject_GetAttr(callable, errcheck_name);
            if (check && check != Py_None)
                result = PyObject_CallFunctionObjArgs(check, Py_None, callable, tuple, NULL);
            else if (check)
                result = Py_NewRef(Py_None);
            Py_XDECREF(check);
        }
    } else if (cx_output_pending)
        cx_output_settle();
    Py_DECREF(tuple);
    Py_XDECREF(kwargs);
    return result;
}

/* A call with a wrong argument count or keyword arguments, refused as Python refuses them:
 * "total() takes 2 arguments (1 given): total(a: const double *, n: long)". */
static PyObject *refuse_call(CallSpec *s, Py_ssize_t n, PyObject *kwnames)
{
    const char *name = PyBytes_AS_STRING(s->name);
    if (kwnames && PyTuple_GET_SIZE(kwnames))
        PyErr_Format(PyExc_TypeError, "%s() takes no keyword arguments (C parameters are positional): %U",
                     name, s->signature);
    else if (s->nargs == 0)
        PyErr_Format(PyExc_TypeError, "%s() takes no arguments (%zd given): %U", name, n, s->signature);
    else
        PyErr_Format(PyExc_TypeError, "%s() takes %d argument%s (%zd given): %U", name, s->nargs,
                     s->nargs == 1 ? "" : "s", n, s->signature);
    return NULL;
}

/* ---- the fast path ----------------------------------------------------------------------- */

/* numpy's array struct (PyArrayObject_fields: data, nd, dimensions, strides, base, descr, flags)
 * has kept its layout since numpy 1.7, 2.x included; it is checked against the buffer protocol
 * and the Python attributes on the first array, and not used if anything differs. */
static void learn_ndarray(PyObject *obj, void *buf)
{
    PyObject *dtype = PyObject_GetAttrString(obj, "dtype");
    PyObject *flags = dtype ? PyObject_GetAttrString(obj, "flags") : NULL;
    PyObject *num = flags ? PyObject_GetAttrString(flags, "num") : NULL;
    long nflags = num ? PyLong_AsLong(num) : -1;
    ndarray_checked = -1;
    if (dtype && num && ND_DATA(obj) == buf && ND_DESCR(obj) == dtype && ND_FLAGS(obj) == (int)nflags) {
        ndarray_type = (PyTypeObject *)Py_NewRef((PyObject *)Py_TYPE(obj));
        ndarray_checked = 1;
    }
    Py_XDECREF(dtype);
    Py_XDECREF(flags);
    Py_XDECREF(num);
    PyErr_Clear();
}

/* The converter accepted the ndarray obj: remember its dtype (a few per parameter). */
static void remember_descr(ArgSpec *a, PyObject *obj, void *buf)
{
    if (ndarray_checked == 0 && strcmp(Py_TYPE(obj)->tp_name, "numpy.ndarray") == 0)
        learn_ndarray(obj, buf);
    if (ndarray_checked != 1 || Py_TYPE(obj) != ndarray_type || ND_DATA(obj) != buf)
        return;
    PyObject *d = ND_DESCR(obj);
    int k = a->ndescr < NDESCR ? a->ndescr++ : NDESCR - 1;
    Py_XSETREF(a->descr[k], Py_NewRef(d));
}

/* A pointer argument through the parameter's converter. 0 ok (*keep: a reference to hold until
 * the call returns), -1: not for this path (ctypes will convert it, and report any error). */
static int pointer_via_converter(ArgSpec *a, PyObject *obj, uint64_t *out, PyObject **keep)
{
    PyObject *res = PyObject_CallMethodOneArg(a->converter, from_param_name, obj);
    if (!res) {
        PyErr_Clear();
        return -1;
    }
    if (res == Py_None) {
        *out = 0;
    } else if (PyObject_TypeCheck(res, (PyTypeObject *)c_void_p_cls) ||
               PyObject_TypeCheck(res, (PyTypeObject *)c_char_p_cls)) { /* cx.Pointer handles too */
        Py_buffer view;
        if (PyObject_GetBuffer(res, &view, PyBUF_SIMPLE) < 0) {
            PyErr_Clear();
            Py_DECREF(res);
            return -1;
        }
        if (view.len != sizeof(void *)) {
            PyBuffer_Release(&view);
            Py_DECREF(res);
            return -1;
        }
        *out = (uint64_t)(uintptr_t) * (void **)view.buf;
        PyBuffer_Release(&view);
        if ((PyObject *)Py_TYPE(res) == c_void_p_cls && obj != res)
            remember_descr(a, obj, (void *)(uintptr_t)*out);
        if (obj == res && (PyObject *)Py_TYPE(res) != c_void_p_cls && PyObject_TypeCheck(res, (PyTypeObject *)c_void_p_cls)) {
            /* a cx handle the converter passed as it is: it decides by the handle's type (its
             * C pointee), so later handles of this exact type are passed without asking */
            int k = a->nptype < NDESCR ? a->nptype++ : NDESCR - 1;
            Py_XSETREF(a->ptype[k], Py_NewRef((PyObject *)Py_TYPE(res)));
        }
    } else {
        Py_DECREF(res); /* a pointer object, byref(), an array...: ctypes knows what to do */
        return -1;
    }
    *keep = res;
    return 0;
}

/* A small int's value without a call: 1 if obj is one (3.12+: the unstable compact API; before,
 * a size of -1, 0 or 1 digits). */
static inline int small_int(PyObject *obj, long long *x)
{
#if PY_VERSION_HEX >= 0x030C0000
    if (!PyUnstable_Long_IsCompact((PyLongObject *)obj))
        return 0;
    *x = (long long)PyUnstable_Long_CompactValue((PyLongObject *)obj);
    return 1;
#else
    Py_ssize_t size = Py_SIZE(obj);
    if (size < -1 || size > 1)
        return 0;
    *x = size * (long long)((PyLongObject *)obj)->ob_digit[0];
    return 1;
#endif
}

/* A handle of a type the parameter's converter accepted before (see pointer_via_converter):
 * its address; -1 for any other object. */
static int handle_value(ArgSpec *a, PyObject *obj, uint64_t *out)
{
    int known = 0;
    for (int j = 0; j < a->nptype; j++)
        known |= (PyObject *)Py_TYPE(obj) == a->ptype[j];
    if (!known)
        return -1;
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE) < 0) {
        PyErr_Clear();
        return -1;
    }
    int ok = view.len == sizeof(void *);
    if (ok)
        *out = (uint64_t)(uintptr_t) * (void **)view.buf;
    PyBuffer_Release(&view);
    return ok ? 0 : -1;
}

static inline int convert_int(ArgSpec *a, PyObject *obj, uint64_t *out)
{
    long long small;
    if (!PyLong_Check(obj))
        return -1;
    if (small_int(obj, &small)) { /* |small| < 2**30: only the narrow types need a check */
        if (a->kind == 'u') {
            if (small < 0 || (a->bits < 32 && small >= (1LL << a->bits)))
                return -1;
        } else if (a->bits < 32 && (small >= (1LL << (a->bits - 1)) || small < -(1LL << (a->bits - 1)))) {
            return -1;
        }
        *out = (uint64_t)small;
        return 0;
    }
    if (a->kind == 'i') {
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(obj, &overflow);
        if (overflow || (x == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            return -1;
        }
        if (a->bits < 64) {
            long long hi = (1LL << (a->bits - 1)) - 1;
            if (x > hi || x < -hi - 1)
                return -1;
        }
        *out = (uint64_t)x; /* sign-extended to 64 bits */
        return 0;
    }
    unsigned long long x = PyLong_AsUnsignedLongLong(obj);
    if (x == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    if (a->bits < 64 && x > (1ULL << a->bits) - 1)
        return -1;
    *out = x;
    return 0;
}

static inline int convert_real(ArgSpec *a, PyObject *obj, double *out)
{
    double x;
    if (PyFloat_CheckExact(obj)) {
        x = PyFloat_AS_DOUBLE(obj);
    } else if (PyLong_CheckExact(obj)) {
        x = PyLong_AsDouble(obj);
        if (x == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            return -1;
        }
    } else {
        return -1;
    }
    if (a->kind == 'd') {
        *out = x;
    } else { /* a float travels in the low half of its register */
        union { double d; float f[2]; uint64_t u; } v;
        v.u = 0;
        v.f[0] = (float)x;
        *out = v.d;
    }
    return 0;
}

static PyObject *result_object(CallSpec *s, Regs *r)
{
    uint64_t v = r->result.i;
    switch (s->ret) {
    case 'v':
        Py_RETURN_NONE;
    case 'i':
        switch (s->ret_bits) {
        case 8: return PyLong_FromLong((signed char)v);
        case 16: return PyLong_FromLong((short)v);
        case 32: return PyLong_FromLong((int)v);
        default: return PyLong_FromLongLong((long long)v);
        }
    case 'u':
        switch (s->ret_bits) {
        case 8: return PyLong_FromLong((unsigned char)v);
        case 16: return PyLong_FromLong((unsigned short)v);
        case 32: return PyLong_FromUnsignedLong((unsigned int)v);
        default: return PyLong_FromUnsignedLongLong(v);
        }
    case '?':
        return PyBool_FromLong((unsigned char)v != 0);
    case 'd':
        return PyFloat_FromDouble(r->result.f);
    case 'f': {
        union { double d; float f[2]; } u;
        u.d = r->result.f;
        return PyFloat_FromDouble(u.f[0]);
    }
    case 'p':
        if (!v)
            Py_RETURN_NONE;
        return PyLong_FromVoidPtr((void *)(uintptr_t)v);
    case 'H': { /* as ctypes makes it (an instance of the result type), NULL as None */
        if (!v)
            Py_RETURN_NONE;
        PyObject *o = PyObject_CallNoArgs(s->ret_cls);
        Py_buffer view;
        if (!o || PyObject_GetBuffer(o, &view, PyBUF_WRITABLE) < 0) {
            Py_XDECREF(o);
            return NULL;
        }
        if (view.len == sizeof(void *))
            memcpy(view.buf, &v, sizeof(void *));
        PyBuffer_Release(&view);
        if (view.len != sizeof(void *)) {
            Py_DECREF(o);
            PyErr_SetString(PyExc_SystemError, "cx: a pointer result type of unexpected size");
            return NULL;
        }
        return o;
    }
    case 'E': { /* a member of the enum when the value is one (C allows any int) */
        PyObject *n = PyLong_FromLong((int)v), *m;
        if (!n)
            return NULL;
        m = PyObject_CallOneArg(s->ret_cls, n);
        if (m) {
            Py_DECREF(n);
            return m;
        }
        if (!PyErr_ExceptionMatches(PyExc_ValueError)) {
            Py_DECREF(n);
            return NULL;
        }
        PyErr_Clear();
        return n;
    }
    case 'O': {
        PyObject *o = (PyObject *)(uintptr_t)v; /* a new reference */
        if (PyErr_Occurred()) {
            Py_XDECREF(o);
            return NULL;
        }
        if (!o)
            PyErr_SetString(PyExc_ValueError, "PyObject is NULL");
        return o;
    }
    }
    PyErr_SetString(PyExc_SystemError, "cx: unknown result kind");
    return NULL;
}

static PyObject *fast_call(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    CallSpec *s = EXTRA(callable)->spec;
    Py_ssize_t n = PyVectorcall_NARGS(nargsf);
    if (s && s->signature && (n != s->nargs || (kwnames && PyTuple_GET_SIZE(kwnames))))
        return refuse_call(s, n, kwnames);
    if (!s || !s->fast || kwnames || n != s->nargs)
        return generic_call(callable, s, args, n, kwnames);

    Regs r;
    PyObject *keep[MAXARGS];
    int nkeep = 0, ni = 0, nf = 0;
    memset(&r, 0, sizeof r.i + sizeof r.f);
    for (Py_ssize_t k = 0; k < n; k++) {
        ArgSpec *a = &s->args[k];
        PyObject *obj = args[k];
        switch (a->kind) {
        case 'i':
        case 'u':
            if (convert_int(a, obj, &r.i[ni++]) < 0)
                goto generic;
            break;
        case 'f':
        case 'd':
            if (convert_real(a, obj, &r.f[nf++]) < 0)
                goto generic;
            break;
        case 'b': /* as ctypes' c_bool: the truth of the value (here: of ints only) */
            if (!PyLong_Check(obj))
                goto generic;
            r.i[ni++] = PyObject_IsTrue(obj);
            break;
        case 'O':
            r.i[ni++] = (uint64_t)(uintptr_t)obj;
            break;
        case 'p':
            if (obj == Py_None) {
                r.i[ni++] = 0;
                break;
            }
            if (Py_TYPE(obj) == ndarray_type && ndarray_checked == 1) {
                PyObject *d = ND_DESCR(obj);
                int flags = ND_FLAGS(obj), known = 0;
                for (int j = 0; j < a->ndescr; j++)
                    known |= a->descr[j] == d;
                if (known && (flags & NPY_C_CONTIGUOUS) && (!a->writable || (flags & NPY_WRITEABLE))) {
                    r.i[ni++] = (uint64_t)(uintptr_t)ND_DATA(obj);
                    break;
                }
            }
            if (a->nptype && handle_value(a, obj, &r.i[ni]) == 0) {
                ni++;
                break;
            }
            if (pointer_via_converter(a, obj, &r.i[ni], &keep[nkeep]) < 0)
                goto generic;
            ni++;
            nkeep++;
            break;
        }
    }

    int fp_result = s->ret == 'd' || s->ret == 'f', abandoned = 0;
    if (s->hold_gil) {
        if (s->guarded)
            abandoned = guarded_call(s, &r, fp_result);
        else
            plain_call(s, &r, fp_result);
    } else {
        PyThreadState *ts = PyEval_SaveThread();
        if (s->guarded)
            abandoned = guarded_call(s, &r, fp_result);
        else
            plain_call(s, &r, fp_result);
        PyEval_RestoreThread(ts);
    }
    while (nkeep)
        Py_DECREF(keep[--nkeep]);
    if (!abandoned && cx_output_pending)
        cx_output_settle();
    if (abandoned) {
        int rc = after_abandoned();
        if (cx_output_pending) /* the end of a flood, before the KeyboardInterrupt */
            cx_output_settle();
        if (rc < 0)
            return NULL;
        r.result.i = 0;
        if (s->ret == 'O' || s->ret == 'H')
            Py_RETURN_NONE;
    }
    return result_object(s, &r);

generic:
    while (nkeep)
        Py_DECREF(keep[--nkeep]);
    return generic_call(callable, s, args, n, kwnames);
}

/* ---- module functions --------------------------------------------------------------------- */

/* fast_class grows a new class's instances by the Extra fields, at the end, before any instance
 * exists. That is sound only while nothing CPython keeps in an instance lies past the old size, or
 * is found there by an offset fixed before the change:
 *   - no items follow the fields (tp_itemsize 0);
 *   - the __dict__ pointer is inside the old size (3.10: a positive tp_dictoffset), or managed,
 *     before the object header (Py_TPFLAGS_MANAGED_DICT; tp_dictoffset -1 since 3.12, and in
 *     3.11 the offset of that slot from the end of the instance, which fast_class moves);
 *   - likewise the weak-reference list (3.12+: Py_TPFLAGS_MANAGED_WEAKREF);
 *   - 3.13+ inline attribute values (Py_TPFLAGS_INLINE_VALUES: 3.14 gives them to these classes)
 *     follow tp_basicsize, which CPython reads at each allocation: they move after Extra;
 *   - no subclass was made yet (it copied the old size), and no instance (cx calls this on the
 *     class it has just made).
 * layout_refused() checks these on the running interpreter (each build of _speedups is for one
 * Python version) and says which one fails, so a CPython that changes them gets a clear
 * error instead of instances whose fields overlap. */
static const char *layout_refused(PyTypeObject *t)
{
    Py_ssize_t size = t->tp_basicsize;
    if (t->tp_itemsize != 0)
        return "its instances have a variable size (tp_itemsize)";
#ifdef Py_TPFLAGS_MANAGED_DICT
    if (t->tp_flags & Py_TPFLAGS_MANAGED_DICT) {
        /* 3.12+: -1. 3.11: the slot before the header, as an offset from the end of the
         * instance (fast_class moves it with the end) */
        if (t->tp_dictoffset != -1 && t->tp_dictoffset + size != -3 * (Py_ssize_t)sizeof(PyObject *))
            return "its managed __dict__ is at an offset cx does not know";
    } else
#endif
    if (t->tp_dictoffset < 0) {
        return "its __dict__ is found from the end of the instance (negative tp_dictoffset)";
    } else if (t->tp_dictoffset > size - (Py_ssize_t)sizeof(PyObject *)) {
        return "its __dict__ pointer lies past the instance's size";
    }
    if (t->tp_weaklistoffset < 0) {
#ifdef Py_TPFLAGS_MANAGED_WEAKREF
        if (!(t->tp_flags & Py_TPFLAGS_MANAGED_WEAKREF))
#endif
            return "its weak-reference list is found from the end of the instance";
    } else if (t->tp_weaklistoffset > size - (Py_ssize_t)sizeof(PyObject *)) {
        return "its weak-reference list lies past the instance's size";
    }
#ifdef Py_TPFLAGS_INLINE_VALUES
    if ((t->tp_flags & Py_TPFLAGS_INLINE_VALUES) && !(t->tp_flags & Py_TPFLAGS_MANAGED_DICT))
        return "it has inline attribute values without a managed __dict__";
#endif
    PyObject *subclasses = PyObject_CallMethod((PyObject *)t, "__subclasses__", NULL);
    if (!subclasses)
        return "its subclasses cannot be listed";
    Py_ssize_t n = PyList_Check(subclasses) ? PyList_GET_SIZE(subclasses) : -1;
    Py_DECREF(subclasses);
    if (n != 0)
        return "it already has subclasses, made with its old size";
    return NULL;
}

static PyObject *fast_class(PyObject *module, PyObject *cls)
{
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, ctypes_funcptr_type) ||
        !(((PyTypeObject *)cls)->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
        PyErr_SetString(PyExc_TypeError, "fast_class: expected a new subclass of ctypes._CFuncPtr");
        return NULL;
    }
    PyTypeObject *t = (PyTypeObject *)cls;
    if (t->tp_flags & Py_TPFLAGS_HAVE_VECTORCALL) {
        PyErr_SetString(PyExc_TypeError, "fast_class: the class already has a call slot");
        return NULL;
    }
    const char *why = layout_refused(t);
    if (why) {
        char version[32];
        snprintf(version, sizeof version, "%s", Py_GetVersion());
        version[strcspn(version, " ")] = '\0';
        PyErr_Clear();
        PyErr_Format(PyExc_RuntimeError,
                     "cx's call slot cannot extend the ctypes function class %s on Python %s: %s. "
                     "its call path relies on how CPython lays out these objects; please report it "
                     "with the output of python -c \"import cx, sys; print(cx.__version__, sys.version)\"",
                     t->tp_name, version, why);
        return NULL;
    }
    /* Before any instance exists: room for Extra at the end of every instance. */
    Py_ssize_t offset = (t->tp_basicsize + sizeof(void *) - 1) / sizeof(void *) * sizeof(void *);
    if (t->tp_dictoffset < -1) /* 3.11's managed __dict__: counted from the end */
        t->tp_dictoffset -= offset + (Py_ssize_t)sizeof(Extra) - t->tp_basicsize;
    t->tp_basicsize = offset + sizeof(Extra);
    t->tp_vectorcall_offset = offset;
    t->tp_flags |= Py_TPFLAGS_HAVE_VECTORCALL;
    Py_RETURN_NONE;
}

static PyObject *attach(PyObject *module, PyObject *args)
{
    PyObject *fn, *spec;
    if (!PyArg_ParseTuple(args, "OO!", &fn, &CallSpec_Type, &spec))
        return NULL;
    PyTypeObject *t = Py_TYPE(fn);
    if (!(t->tp_flags & Py_TPFLAGS_HAVE_VECTORCALL) || !PyType_IsSubtype(t, ctypes_funcptr_type) ||
        t->tp_basicsize < t->tp_vectorcall_offset + (Py_ssize_t)sizeof(Extra)) {
        PyErr_SetString(PyExc_TypeError, "attach: the function's class was not made by fast_class");
        return NULL;
    }
    if (PyObject_SetAttrString(fn, "_cx_call", spec) < 0) /* owns it */
        return NULL;
    Extra *x = EXTRA(fn);
    x->spec = (CallSpec *)spec;
    x->call = fast_call;
    Py_RETURN_NONE;
}

static PyObject *detach(PyObject *module, PyObject *fn)
{
    PyTypeObject *t = Py_TYPE(fn);
    if ((t->tp_flags & Py_TPFLAGS_HAVE_VECTORCALL) && PyType_IsSubtype(t, ctypes_funcptr_type) &&
        t->tp_basicsize >= t->tp_vectorcall_offset + (Py_ssize_t)sizeof(Extra)) {
        CallSpec *s = EXTRA(fn)->spec;
        if (s)
            s->fast = 0; /* calls still enter the guard, then go to ctypes */
    }
    Py_RETURN_NONE;
}

static PyMethodDef call_methods[] = {
    {"fast_class", fast_class, METH_O,
     "fast_class(cls): give a new subclass of ctypes._CFuncPtr cx's call slot (before any instance)."},
    {"attach", attach, METH_VARARGS,
     "attach(fn, spec): calls of fn (an instance of a fast_class class) follow the CallSpec spec."},
    {"detach", detach, METH_O,
     "detach(fn): every later call of fn goes to ctypes (still guarded), e.g. after its errcheck, "
     "argtypes or restype were changed."},
    {NULL}};

int cx_call_init(PyObject *m)
{
    PyObject *ctypes = PyImport_ImportModule("ctypes");
    if (!ctypes)
        return -1;
    ctypes_funcptr_type = (PyTypeObject *)PyObject_GetAttrString(ctypes, "_CFuncPtr");
    c_void_p_cls = PyObject_GetAttrString(ctypes, "c_void_p");
    c_char_p_cls = PyObject_GetAttrString(ctypes, "c_char_p");
    Py_DECREF(ctypes);
    from_param_name = PyUnicode_InternFromString("from_param");
    errcheck_name = PyUnicode_InternFromString("errcheck");
    if (!ctypes_funcptr_type || !c_void_p_cls || !c_char_p_cls || !from_param_name || !errcheck_name ||
        !PyType_Check((PyObject *)ctypes_funcptr_type) || !ctypes_funcptr_type->tp_call)
        return -1;
    if (PyType_Ready(&CallSpec_Type) < 0 ||
        PyModule_AddObject(m, "CallSpec", Py_NewRef((PyObject *)&CallSpec_Type)) < 0 ||
        PyModule_AddFunctions(m, call_methods) < 0 ||
        PyModule_AddIntConstant(m, "TRAMPOLINE_INT_REGS", HAVE_TRAMPOLINE ? NINT : 0) < 0 ||
        PyModule_AddIntConstant(m, "TRAMPOLINE_FLOAT_REGS", HAVE_TRAMPOLINE ? NFLT : 0) < 0 ||
        /* the frames this slot allocates, checked against libjit's at load (cx/_libjit.py) */
        PyModule_AddIntConstant(m, "GUARD_FRAME_SIZE", JIT_GUARD_FRAME_SIZE) < 0)
        return -1;
    return 0;
}
