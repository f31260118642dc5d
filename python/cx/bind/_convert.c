/*
 * _convert.c -- fast argument conversion for cx's ctypes bindings (part of cx._speedups).
 *
 * ctypes converts each argument through its argtype's from_param. For pointer
 * parameters, cx installs a PointerArg converter whose from_param takes any
 * object with the buffer protocol (numpy arrays, bytes, bytearray,
 * array.array, memoryview) zero-copy, after checking that its element type
 * matches the C pointee and that it is C-contiguous (and writable when the
 * pointee is not const). Everything else (None, str, ctypes objects, lists)
 * goes to a Python fallback. The call itself stays a ctypes call: the GIL is
 * released exactly as ctypes does.
 *
 * Scalar parameters get IntArg (range-checked integers) and FloatArg converters, which also
 * happen to be faster than ctypes' own simple types as argtypes.
 *
 * The module also exports the address of closed_trap, a function that does
 * nothing and returns 0: cx points the bound functions of a closed module at
 * it (with an errcheck that raises), so a stale call never jumps into freed code.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <string.h>

#include "_speedups.h"

static PyObject *c_void_p_type;   /* ctypes.c_void_p */
static PyObject *ctypes_metatypes; /* tuple of ctypes metaclasses */

static long closed_trap(void) { return 0; }

typedef struct {
    PyObject_HEAD
    char kind;          /* 'f' float, 'i' signed, 'u' unsigned, 'c' char, '?' bool, 'v' any, 's' struct */
    Py_ssize_t itemsize; /* expected element size (0: any) */
    int writable;       /* pointee not const: the buffer must be writable */
    PyObject *what;     /* "argument 'x' of f()" for messages */
    PyObject *ctype;    /* C spelling of the parameter type, e.g. "double *" */
    PyObject *dtype;    /* the matching numpy dtype, for messages, e.g. "numpy.float64" */
    PyObject *fallback; /* callable(obj) for non-buffer objects */
    PyObject *slot;     /* a c_void_p returned by every conversion (see below) */
    void **slot_value;  /* where slot keeps its pointer */
} PointerArg;

/* A type whose instances are plain buffers, not ctypes objects (numpy.ndarray, once seen). */
static PyTypeObject *known_buffer_type;

static int kind_matches(char kind, char code) {
    switch (kind) {
    case 'f': return strchr("efdg", code) != NULL;
    case 'i': return strchr("bhilqn", code) != NULL;
    case 'u': return strchr("BHILQN", code) != NULL;
    case 'c': return strchr("bBc?", code) != NULL;
    case '?': return code == '?';
    default: return 1; /* 'v' (void) and 's' (struct: checked by itemsize) */
    }
}

/* Returns the element code of a native, single-element buffer format, or 0. */
static char format_code(const char *fmt) {
    if (fmt == NULL) return 'B';
    if (*fmt == '@' || *fmt == '=') fmt++;
#if PY_LITTLE_ENDIAN
    else if (*fmt == '<') fmt++;
#else
    else if (*fmt == '>' || *fmt == '!') fmt++;
#endif
    if (fmt[0] == '\0' || fmt[1] != '\0') return 0;
    return fmt[0];
}

/* A numpy-style name for a buffer element, for messages. */
static const char *element_name(char code, Py_ssize_t itemsize) {
    static const char *ints[] = {"int8", "int16", NULL, "int32", NULL, NULL, NULL, "int64"};
    static const char *uints[] = {"uint8", "uint16", NULL, "uint32", NULL, NULL, NULL, "uint64"};
    if (code && strchr("bhilqn", code) && itemsize >= 1 && itemsize <= 8 && ints[itemsize - 1])
        return ints[itemsize - 1];
    if (code && strchr("BHILQN", code) && itemsize >= 1 && itemsize <= 8 && uints[itemsize - 1])
        return uints[itemsize - 1];
    switch (code) {
    case 'e': return "float16";
    case 'f': return "float32";
    case 'd': return "float64";
    case 'g': return "longdouble";
    case '?': return "bool";
    case 'c': return "bytes";
    case 0: return "a record/struct";
    default: return "an unknown format";
    }
}

static PyObject *type_error(PointerArg *self, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    PyObject *detail = PyUnicode_FromFormatV(fmt, ap);
    va_end(ap);
    if (detail) {
        PyErr_Format(PyExc_TypeError, "%U (%U): %U", self->what, self->ctype, detail);
        Py_DECREF(detail);
    }
    return NULL;
}

/*
 * A new instance of the ctypes class cls, to be returned by every conversion of one converter:
 * ctypes copies a converted argument's value as soon as from_param returns (ConvParam, with the
 * GIL still held, before the next conversion), so one instance per converter can carry every
 * result. *value is where the instance keeps its value (ctypes.addressof), *size its size.
 * Returns a new reference, or NULL with an exception set.
 */
static PyObject *new_slot(PyObject *cls, void **value, long *size) {
    PyObject *slot = PyObject_CallNoArgs(cls);
    PyObject *ctypes = slot ? PyImport_ImportModule("ctypes") : NULL;
    PyObject *n = ctypes ? PyObject_CallMethod(ctypes, "sizeof", "O", slot) : NULL;
    PyObject *addr = n ? PyObject_CallMethod(ctypes, "addressof", "O", slot) : NULL;
    if (addr) {
        *size = PyLong_AsLong(n);
        *value = PyLong_AsVoidPtr(addr);
    }
    Py_XDECREF(ctypes);
    Py_XDECREF(n);
    Py_XDECREF(addr);
    if (!addr || PyErr_Occurred()) {
        Py_XDECREF(slot);
        return NULL;
    }
    return slot;
}

/* PointerArg's results travel in one c_void_p per converter (see new_slot). */
static PyObject *PointerArg_from_param(PointerArg *self, PyObject *obj) {
    if (obj == Py_None) Py_RETURN_NONE;
    if (Py_TYPE(obj) != known_buffer_type) {
        if (!PyObject_CheckBuffer(obj) || PyObject_IsInstance((PyObject *)Py_TYPE(obj), ctypes_metatypes) == 1)
            return PyObject_CallOneArg(self->fallback, obj);
    }

    Py_buffer view;
    int flags = PyBUF_STRIDES | PyBUF_FORMAT | (self->writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, &view, flags) < 0) {
        /* Exporters report read-only differently (numpy: ValueError, bytes: BufferError):
         * if a read-only request succeeds, that was the problem. */
        if (!self->writable) return NULL;
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        if (PyObject_GetBuffer(obj, &view, flags & ~PyBUF_WRITABLE) < 0) {
            PyErr_Clear();
            PyErr_Restore(type, value, tb);
            return NULL;
        }
        PyBuffer_Release(&view);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        return type_error(self, "the %s is read-only, but the C parameter is not const and may write "
                          "to it; pass a writable copy or declare the parameter const",
                          Py_TYPE(obj)->tp_name);
    }
    PyObject *result = NULL;
    char code = format_code(view.format);
    if (!PyBuffer_IsContiguous(&view, 'C')) {
        type_error(self, "the %s is not C-contiguous; pass numpy.ascontiguousarray(...)",
                   Py_TYPE(obj)->tp_name);
    } else if ((self->kind != 'v' &&
                (code == 0 ? self->kind != 's' : !kind_matches(self->kind, code))) ||
               (self->itemsize && self->kind != 'c' && view.itemsize != self->itemsize)) {
        type_error(self, "got elements of type %s (%zd bytes), which do not match the C type; "
                   "convert first, e.g. numpy.asarray(x, dtype=%U)",
                   element_name(code, view.itemsize), view.itemsize, self->dtype);
    } else {
        *self->slot_value = view.buf;
        result = Py_NewRef(self->slot);
        if (known_buffer_type == NULL && strcmp(Py_TYPE(obj)->tp_name, "numpy.ndarray") == 0)
            known_buffer_type = (PyTypeObject *)Py_NewRef((PyObject *)Py_TYPE(obj));
    }
    PyBuffer_Release(&view);
    return result;
}

static int PointerArg_init(PointerArg *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"kind", "itemsize", "writable", "what", "ctype", "dtype", "fallback", NULL};
    int kind;
    PyObject *what, *ctype, *dtype, *fallback;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "CnpUUUO", kwlist, &kind, &self->itemsize,
                                     &self->writable, &what, &ctype, &dtype, &fallback))
        return -1;
    if (!strchr("fiuc?vs", kind)) {
        PyErr_Format(PyExc_ValueError, "unknown pointer kind %c", kind);
        return -1;
    }
    self->kind = (char)kind;
    long size;
    void *value;
    PyObject *slot = new_slot(c_void_p_type, &value, &size);
    if (!slot) return -1;
    Py_XSETREF(self->slot, slot);
    self->slot_value = (void **)value;
    Py_XSETREF(self->what, Py_NewRef(what));
    Py_XSETREF(self->ctype, Py_NewRef(ctype));
    Py_XSETREF(self->dtype, Py_NewRef(dtype));
    Py_XSETREF(self->fallback, Py_NewRef(fallback));
    return 0;
}

static int PointerArg_traverse(PointerArg *self, visitproc visit, void *arg) {
    Py_VISIT(self->fallback);
    return 0;
}

static int PointerArg_clear(PointerArg *self) {
    Py_CLEAR(self->what);
    Py_CLEAR(self->ctype);
    Py_CLEAR(self->dtype);
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->slot);
    return 0;
}

static void PointerArg_dealloc(PointerArg *self) {
    PyObject_GC_UnTrack(self);
    PointerArg_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef PointerArg_methods[] = {
    {"from_param", (PyCFunction)PointerArg_from_param, METH_O,
     "Convert one argument for ctypes: a buffer (zero-copy, type-checked) or via the fallback."},
    {NULL}};

static PyTypeObject PointerArg_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cx._speedups.PointerArg",
    .tp_basicsize = sizeof(PointerArg),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "PointerArg(kind, itemsize, writable, what, ctype, dtype, fallback): ctypes converter "
              "for one pointer parameter.",
    .tp_init = (initproc)PointerArg_init,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)PointerArg_dealloc,
    .tp_traverse = (traverseproc)PointerArg_traverse,
    .tp_clear = (inquiry)PointerArg_clear,
    .tp_methods = PointerArg_methods,
};

/*
 * IntArg: the converter for an integer parameter. ctypes' own integer types wrap out-of-range
 * values silently (c_int(2**32 + 1) is 1); cx refuses them with an OverflowError naming the
 * argument, accepts any integer-like object (numpy integers: __index__), and refuses floats. The
 * value is stored in one ctypes instance of the parameter's type, returned like PointerArg's slot.
 */
typedef struct {
    PyObject_HEAD
    int bits;            /* 8, 16, 32 or 64 */
    int is_signed;
    PyObject *what;      /* "argument 'n' of f()" */
    PyObject *ctype;     /* C spelling, e.g. "int" */
    PyObject *slot;      /* an instance of the parameter's ctypes type */
    void *slot_value;    /* where slot keeps its value */
} IntArg;

static PyObject *int_error(IntArg *self, PyObject *exc, PyObject *value) {
    if (self->is_signed) {
        long long hi = self->bits == 64 ? LLONG_MAX : (1LL << (self->bits - 1)) - 1;
        PyErr_Format(exc, "%U (%U): %R is out of range (%lld..%lld)", self->what, self->ctype, value,
                     -hi - 1, hi);
    } else {
        unsigned long long hi = self->bits == 64 ? ULLONG_MAX : (1ULL << self->bits) - 1;
        PyErr_Format(exc, "%U (%U): %R is out of range (0..%llu)", self->what, self->ctype, value, hi);
    }
    return NULL;
}

static PyObject *IntArg_from_param(IntArg *self, PyObject *obj) {
    PyObject *value;
    if (PyLong_Check(obj)) {
        value = Py_NewRef(obj);
    } else if (Py_TYPE(obj) == Py_TYPE(self->slot)) {
        return Py_NewRef(obj);
    } else if (PyFloat_Check(obj)) {
        return PyErr_Format(PyExc_TypeError, "%U (%U): got a float (%R); the C parameter is an integer, "
                            "convert with int() or round()", self->what, self->ctype, obj);
    } else {
        value = PyNumber_Index(obj);
        if (!value) {
            PyErr_Clear();
            return PyErr_Format(PyExc_TypeError, "%U (%U): expected an integer, got %s", self->what,
                                self->ctype, Py_TYPE(obj)->tp_name);
        }
    }
    int bad = 0;
    if (self->is_signed) {
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(value, &overflow);
        long long hi = self->bits == 64 ? LLONG_MAX : (1LL << (self->bits - 1)) - 1;
        bad = overflow || x > hi || x < -hi - 1;
        if (!bad) {
            switch (self->bits) {
            case 8: *(signed char *)self->slot_value = (signed char)x; break;
            case 16: *(short *)self->slot_value = (short)x; break;
            case 32: *(int *)self->slot_value = (int)x; break;
            default: *(long long *)self->slot_value = x; break;
            }
        }
    } else {
        unsigned long long x = PyLong_AsUnsignedLongLong(value);
        if (x == (unsigned long long)-1 && PyErr_Occurred()) {
            PyErr_Clear();
            bad = 1;
        } else if (self->bits < 64 && x > (1ULL << self->bits) - 1) {
            bad = 1;
        } else {
            switch (self->bits) {
            case 8: *(unsigned char *)self->slot_value = (unsigned char)x; break;
            case 16: *(unsigned short *)self->slot_value = (unsigned short)x; break;
            case 32: *(unsigned int *)self->slot_value = (unsigned int)x; break;
            default: *(unsigned long long *)self->slot_value = x; break;
            }
        }
    }
    if (bad) {
        int_error(self, PyExc_OverflowError, value);
        Py_DECREF(value);
        return NULL;
    }
    Py_DECREF(value);
    return Py_NewRef(self->slot);
}

static int IntArg_init(IntArg *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"ctype_class", "is_signed", "what", "ctype", NULL};
    PyObject *cls, *what, *ctype;
    int is_signed;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OpUU", kwlist, &cls, &is_signed, &what, &ctype))
        return -1;
    long bytes;
    void *value;
    PyObject *slot = new_slot(cls, &value, &bytes);
    if (!slot) return -1;
    if (bytes != 1 && bytes != 2 && bytes != 4 && bytes != 8) {
        Py_DECREF(slot);
        PyErr_Format(PyExc_ValueError, "IntArg: unsupported integer size %ld", bytes);
        return -1;
    }
    self->slot_value = value;
    self->bits = (int)bytes * 8;
    self->is_signed = is_signed;
    Py_XSETREF(self->slot, slot);
    Py_XSETREF(self->what, Py_NewRef(what));
    Py_XSETREF(self->ctype, Py_NewRef(ctype));
    return 0;
}

static void IntArg_dealloc(IntArg *self) {
    Py_CLEAR(self->slot);
    Py_CLEAR(self->what);
    Py_CLEAR(self->ctype);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef IntArg_methods[] = {
    {"from_param", (PyCFunction)IntArg_from_param, METH_O,
     "Convert one integer argument for ctypes, refusing values out of the C type's range."},
    {NULL}};

static PyTypeObject IntArg_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cx._speedups.IntArg",
    .tp_basicsize = sizeof(IntArg),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "IntArg(ctype_class, is_signed, what, ctype): ctypes converter for one integer "
              "parameter, range-checked.",
    .tp_init = (initproc)IntArg_init,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)IntArg_dealloc,
    .tp_methods = IntArg_methods,
};

/*
 * FloatArg: the converter for a float or double parameter: any real number (int, float, numpy
 * floats, objects with __float__), stored in one ctypes instance of the parameter's type.
 */
typedef struct {
    PyObject_HEAD
    int is_double;
    PyObject *what, *ctype, *slot;
    void *slot_value;
} FloatArg;

static PyObject *FloatArg_from_param(FloatArg *self, PyObject *obj) {
    double x;
    if (PyFloat_CheckExact(obj)) {
        x = PyFloat_AS_DOUBLE(obj);
    } else if (Py_TYPE(obj) == Py_TYPE(self->slot)) {
        return Py_NewRef(obj);
    } else if (PyUnicode_Check(obj) || PyBytes_Check(obj) || PyByteArray_Check(obj)) {
        return PyErr_Format(PyExc_TypeError, "%U (%U): expected a number, got %s", self->what,
                            self->ctype, Py_TYPE(obj)->tp_name);
    } else {
        x = PyFloat_AsDouble(obj);
        if (x == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            return PyErr_Format(PyExc_TypeError, "%U (%U): expected a number, got %s", self->what,
                                self->ctype, Py_TYPE(obj)->tp_name);
        }
    }
    if (self->is_double)
        *(double *)self->slot_value = x;
    else
        *(float *)self->slot_value = (float)x;
    return Py_NewRef(self->slot);
}

static int FloatArg_init(FloatArg *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"ctype_class", "what", "ctype", NULL};
    PyObject *cls, *what, *ctype;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OUU", kwlist, &cls, &what, &ctype))
        return -1;
    long bytes;
    void *value;
    PyObject *slot = new_slot(cls, &value, &bytes);
    if (!slot) return -1;
    if (bytes != sizeof(double) && bytes != sizeof(float)) {
        Py_DECREF(slot);
        PyErr_Format(PyExc_ValueError, "FloatArg: unsupported size %ld", bytes);
        return -1;
    }
    self->is_double = bytes == sizeof(double);
    self->slot_value = value;
    Py_XSETREF(self->slot, slot);
    Py_XSETREF(self->what, Py_NewRef(what));
    Py_XSETREF(self->ctype, Py_NewRef(ctype));
    return 0;
}

static void FloatArg_dealloc(FloatArg *self) {
    Py_CLEAR(self->slot);
    Py_CLEAR(self->what);
    Py_CLEAR(self->ctype);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef FloatArg_methods[] = {
    {"from_param", (PyCFunction)FloatArg_from_param, METH_O,
     "Convert one real-number argument for ctypes."},
    {NULL}};

static PyTypeObject FloatArg_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cx._speedups.FloatArg",
    .tp_basicsize = sizeof(FloatArg),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "FloatArg(ctype_class, what, ctype): ctypes converter for one float/double parameter.",
    .tp_init = (initproc)FloatArg_init,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)FloatArg_dealloc,
    .tp_methods = FloatArg_methods,
};

/* Adds PointerArg, IntArg, FloatArg and closed_trap_address to module m (see _speedups.h). */
int cx_convert_init(PyObject *m) {
    PyObject *ctypes = PyImport_ImportModule("ctypes");
    if (!ctypes) return -1;
    c_void_p_type = PyObject_GetAttrString(ctypes, "c_void_p");
    const char *names[] = {"c_int", "Structure", "Union", "Array", "_Pointer", "_CFuncPtr"};
    ctypes_metatypes = PyTuple_New(6);
    for (int i = 0; ctypes_metatypes && i < 6; i++) {
        PyObject *t = PyObject_GetAttrString(ctypes, names[i]);
        if (!t) { Py_CLEAR(ctypes_metatypes); break; }
        PyTuple_SET_ITEM(ctypes_metatypes, i, Py_NewRef((PyObject *)Py_TYPE(t)));
        Py_DECREF(t);
    }
    Py_DECREF(ctypes);
    if (!c_void_p_type || !ctypes_metatypes || PyType_Ready(&PointerArg_Type) < 0 ||
        PyType_Ready(&IntArg_Type) < 0 || PyType_Ready(&FloatArg_Type) < 0)
        return -1;
    if (PyModule_AddObject(m, "PointerArg", Py_NewRef((PyObject *)&PointerArg_Type)) < 0 ||
        PyModule_AddObject(m, "IntArg", Py_NewRef((PyObject *)&IntArg_Type)) < 0 ||
        PyModule_AddObject(m, "FloatArg", Py_NewRef((PyObject *)&FloatArg_Type)) < 0 ||
        PyModule_AddObject(m, "closed_trap_address", PyLong_FromVoidPtr((void *)closed_trap)) < 0)
        return -1;
    return 0;
}
