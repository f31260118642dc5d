/*
 * _native.c -- the runtime's C (part of cx._speedups): Python's SIGINT handler while cx is loaded,
 * and the write function of the C stdio streams that cx.runtime.capture makes.
 *
 * Both are C so that they add nothing a person would see or lose:
 *
 * sigint_handler(message) returns a builtin function for signal.signal. It sets
 * KeyboardInterrupt(message()) -- "fib() was interrupted at line 4 (in fib())." -- or a bare
 * KeyboardInterrupt when message() returns None or fails, as Python's default_int_handler does,
 * and adds no frame to the traceback (a handler written in Python would be its last frame).
 * While the thread is in cx's own Python around C output, it defers the interrupt instead (see
 * in_output), so a Ctrl-C never loses a line in the middle of being handed over.
 *
 * capture_write is a glibc cookie write function (fopencookie). Its cookie is a Python callable
 * taking bytes, kept alive by cx.runtime.capture. It takes the GIL with PyGILState_Ensure (so a
 * printf from a thread Python never created works), runs pending signal handlers before the
 * Python side (a KeyboardInterrupt raised inside the callable would be lost) and arms the
 * interrupt again after it, so it is raised when the C function that printed returns. It
 * suspends the crash guard for its whole body: an interrupt never abandons it halfway while it
 * holds the GIL or the stream's lock.
 *
 * cx_output_settle is called by the call slot (bind/_call.c) when a bound function returns, or is
 * interrupted, while cx_output_pending is set: cx.runtime.capture then shows the last lines of a
 * flood of output that went over the notebook's limit, before whatever Python prints next.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sys/types.h>

#include "_speedups.h"

/* ---- the SIGINT handler -------------------------------------------------------------------- */

/* Set while this thread runs cx's own Python around C output (the writer, the settling of a
 * flood): a Ctrl-C then waits until it is done (deferred), so a line is never half handed over. */
static __thread int in_output;
static __thread int deferred;

static PyObject *sigint_call(PyObject *message, PyObject *const *args, Py_ssize_t n)
{
    (void)args;
    (void)n;
    if (in_output) {
        deferred = 1;
        Py_RETURN_NONE;
    }
    PyObject *text = PyObject_CallNoArgs(message);
    if (text && text != Py_None)
        PyErr_SetObject(PyExc_KeyboardInterrupt, text);
    else
        PyErr_SetNone(PyExc_KeyboardInterrupt); /* replaces an error of message() too */
    Py_XDECREF(text);
    return NULL;
}

static PyMethodDef sigint_def = {
    "cx_sigint", (PyCFunction)(void (*)(void))sigint_call, METH_FASTCALL,
    "Python's SIGINT handler while cx is loaded: raises KeyboardInterrupt naming the C function "
    "and line an interrupt stopped (see cx.runtime.guard)."};

static PyObject *sigint_handler(PyObject *module, PyObject *message)
{
    if (!PyCallable_Check(message)) {
        PyErr_SetString(PyExc_TypeError, "sigint_handler(message): message must be callable");
        return NULL;
    }
    return PyCFunction_New(&sigint_def, message); /* holds message */
}

/* ---- the capture writer -------------------------------------------------------------------- */

static ssize_t capture_write(void *cookie, const char *buf, size_t size)
{
    PyObject *deliver = (PyObject *)cookie;
    void *token = cx_guard.suspend ? cx_guard.suspend() : NULL;
    PyGILState_STATE gil = PyGILState_Ensure();
    int interrupted = 0;
    if (PyErr_CheckSignals() < 0) { /* run Python's signal handlers now, not inside deliver */
        interrupted = PyErr_ExceptionMatches(PyExc_KeyboardInterrupt);
        if (!interrupted)
            PyErr_WriteUnraisable(deliver);
        PyErr_Clear();
    }
    PyObject *data = PyBytes_FromStringAndSize(buf, (Py_ssize_t)size);
    in_output++;
    PyObject *result = data ? PyObject_CallOneArg(deliver, data) : NULL;
    if (--in_output == 0 && deferred) {
        deferred = 0;
        interrupted = 1;
    }
    if (result)
        Py_DECREF(result);
    else if (PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
        interrupted = 1;
        PyErr_Clear();
    } else
        PyErr_WriteUnraisable(deliver);
    Py_XDECREF(data);
    if (interrupted)
        PyErr_SetInterrupt();
    PyGILState_Release(gil);
    if (cx_guard.resume)
        cx_guard.resume(token);
    return (ssize_t)size;
}

/* ---- the end of a flood, shown when the call that printed it returns ---------------------- */

int cx_output_pending;
static PyObject *settle_fn; /* cx.runtime.capture's _settle, set by set_output_settle */

void cx_output_settle(void)
{
    PyObject *type, *value, *tb;
    if (!settle_fn)
        return;
    PyErr_Fetch(&type, &value, &tb); /* the call's own exception (a KeyboardInterrupt) is kept */
    in_output++;
    PyObject *result = PyObject_CallNoArgs(settle_fn);
    if (--in_output == 0 && deferred) {
        deferred = 0;
        PyErr_SetInterrupt(); /* raised at the next check, after the end of the flood is shown */
    }
    if (result)
        Py_DECREF(result);
    else if (PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
        PyErr_Clear();
        PyErr_SetInterrupt(); /* a Ctrl-C that arrived meanwhile: raised at the next check */
    } else
        PyErr_WriteUnraisable(settle_fn);
    PyErr_Restore(type, value, tb);
}

static PyObject *set_output_settle(PyObject *module, PyObject *fn)
{
    (void)module;
    if (fn != Py_None && !PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "set_output_settle(fn): fn must be callable or None");
        return NULL;
    }
    Py_XSETREF(settle_fn, fn == Py_None ? NULL : Py_NewRef(fn));
    Py_RETURN_NONE;
}

static PyObject *output_pending(PyObject *module, PyObject *flag)
{
    (void)module;
    int on = PyObject_IsTrue(flag);
    if (on < 0)
        return NULL;
    cx_output_pending = on;
    Py_RETURN_NONE;
}

static PyMethodDef native_methods[] = {
    {"sigint_handler", sigint_handler, METH_O,
     "sigint_handler(message): a SIGINT handler for signal.signal that raises "
     "KeyboardInterrupt(message()), or a bare KeyboardInterrupt when message() returns None."},
    {"set_output_settle", set_output_settle, METH_O,
     "set_output_settle(fn): fn() is called, with the GIL, when a bound C function returns while "
     "output_pending(True) is in force (None: never)."},
    {"output_pending", output_pending, METH_O,
     "output_pending(flag): whether C output is waiting to be settled when a call returns."},
    {NULL}};

int cx_native_init(PyObject *m)
{
    if (PyModule_AddFunctions(m, native_methods) < 0 ||
        PyModule_AddObject(m, "capture_write_address", PyLong_FromVoidPtr((void *)capture_write)) < 0)
        return -1;
    return 0;
}
