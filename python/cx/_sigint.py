"""Python's SIGINT handler while cx is loaded, written in C so that it adds no frame to tracebacks.

The handler raises ``KeyboardInterrupt("chatty() was interrupted at line 3 (in chatty()).")`` when
the interrupt stopped a guarded C call (:func:`cx.guard.interrupt_message` says so), a bare
``KeyboardInterrupt`` otherwise, exactly as Python's own ``signal.default_int_handler`` does. A
handler written in Python would show up as the last frame of every such traceback (IPython never
hides the frame that raised); this one is a few lines of C compiled by cx on first use and called
through ctypes with the GIL held, which raises the exception it sets without a frame of its own.
"""
from __future__ import annotations

import ctypes
import threading

__all__ = ["handler"]

_SOURCE = r"""
typedef struct _object PyObject;
PyObject *PyObject_CallNoArgs(PyObject *callable);
void PyErr_SetObject(PyObject *type, PyObject *value);
void PyErr_SetNone(PyObject *type);
void Py_DecRef(PyObject *o);
extern PyObject *PyExc_KeyboardInterrupt;
extern PyObject _Py_NoneStruct;

static PyObject *message; /* a Python callable: the message, or None (kept alive by cx._sigint) */

void cx_sigint_init(PyObject *message_fn) { message = message_fn; }

/* signal.signal's handler(signum, frame): always sets KeyboardInterrupt and returns -1 */
int cx_sigint(int signum, PyObject *frame) {
    PyObject *text = message ? PyObject_CallNoArgs(message) : 0;
    (void)signum; (void)frame;
    if (text && text != &_Py_NoneStruct) PyErr_SetObject(PyExc_KeyboardInterrupt, text);
    else PyErr_SetNone(PyExc_KeyboardInterrupt); /* replaces an error of message() too */
    if (text) Py_DecRef(text);
    return -1;
}
"""

_lock = threading.Lock()
_state = {}  # "handler", "module", "message" once made; "making" while cx.compile runs


def handler(message):
    """The C handler, made on first use; ``message()`` returns the text or None.

    None while it is being made (``cx.compile`` installs the guard, which asks for the handler).
    """
    with _lock:
        if "handler" in _state or _state.get("making"):
            return _state.get("handler")
        _state["making"] = True
    try:
        from .module import compile

        module = compile(_SOURCE, name="cx_sigint", guard=False)
        exports = module.exports()
        init = ctypes.PYFUNCTYPE(None, ctypes.py_object)(exports["cx_sigint_init"])
        init(message)
        _state.update(module=module, message=message,  # both alive as long as the process
                      handler=ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.py_object)(exports["cx_sigint"]))
        return _state["handler"]
    finally:
        _state["making"] = False
