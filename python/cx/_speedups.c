/*
 * _speedups.c -- the cx._speedups extension module: cx's own C, built at install time against
 * Python.h. The parts are listed in _speedups.h; this file makes the module and holds libjit's
 * guard entry points, which the call slot, the capture writer and the timing loop share.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "_speedups.h"

struct cx_guard_api cx_guard;

static PyObject *set_guard_api(PyObject *module, PyObject *args)
{
    PyObject *o[5];
    void *p[5];
    if (!PyArg_ParseTuple(args, "OOOOO", &o[0], &o[1], &o[2], &o[3], &o[4]))
        return NULL;
    for (int i = 0; i < 5; i++) {
        p[i] = PyLong_AsVoidPtr(o[i]);
        if (PyErr_Occurred())
            return NULL;
        if (!p[i]) {
            PyErr_SetString(PyExc_ValueError, "set_guard_api: NULL address");
            return NULL;
        }
    }
    cx_guard.leave = (void (*)(jit_guard_frame *))p[1];
    cx_guard.recover = (void (*)(jit_guard_frame *))p[2];
    cx_guard.suspend = (void *(*)(void))p[3];
    cx_guard.resume = (void (*)(void *))p[4];
    cx_guard.enter = (void (*)(jit_guard_frame *, const char *, int))p[0]; /* last: says it is set */
    Py_RETURN_NONE;
}

static PyObject *guard_api_set(PyObject *module, PyObject *unused)
{
    return PyBool_FromLong(cx_guard.enter != NULL);
}

static PyMethodDef methods[] = {
    {"set_guard_api", set_guard_api, METH_VARARGS,
     "set_guard_api(enter, leave, recover, suspend, resume): addresses of libjit's jit_guard_enter, "
     "jit_guard_leave, jit_guard_recover, jit_guard_suspend and jit_guard_resume."},
    {"guard_api_set", guard_api_set, METH_NOARGS, "guard_api_set(): whether set_guard_api was called."},
    {NULL}};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT, "cx._speedups",
    "cx's own C (internal): argument converters, the call slot, the SIGINT handler, the C stdio "
    "capture writer, the timing loop, a library's own symbols. See python/cx/_speedups.h.", -1, methods,
};

PyMODINIT_FUNC PyInit__speedups(void)
{
    PyObject *m = PyModule_Create(&speedups_module);
    if (!m)
        return NULL;
    if (cx_convert_init(m) < 0 || cx_call_init(m) < 0 || cx_native_init(m) < 0 || cx_timeit_init(m) < 0
        || cx_libraries_init(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
