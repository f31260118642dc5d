/* _call.h -- cx's call slot (_call.c), registered by _speedups' module init. */
#ifndef CX_CALL_H
#define CX_CALL_H
#include <Python.h>

/* Adds CallSpec, fast_class, attach, detach and set_guard_api to module m: 0, or -1 with an
 * exception set. */
int cx_call_init(PyObject *m);

#endif
