/*
 * _cscan.c -- cx._cscan: cuts preprocessed C into its top-level declarations (internal).
 *
 * One job, done in C because a source the size of an amalgamation is megabytes of text: find where
 * each file-scope declaration or function definition starts and ends, skipping string and character
 * literals and function bodies. The text is the compiler preprocessor's output (no comments, no
 * macros); lines starting with '#' (line markers, pragmas) are skipped.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Index just past the closing quote of the literal opening at i (or n). */
static Py_ssize_t skip_literal(int kind, const void *data, Py_ssize_t n, Py_ssize_t i)
{
    Py_UCS4 quote = PyUnicode_READ(kind, data, i);

    for (i++; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c == '\\')
            i++;
        else if (c == quote || c == '\n')
            return i + 1;
    }
    return n;
}

/* Index just past the end of the line containing i. */
static Py_ssize_t skip_line(int kind, const void *data, Py_ssize_t n, Py_ssize_t i)
{
    while (i < n && PyUnicode_READ(kind, data, i) != '\n')
        i++;
    return i < n ? i + 1 : n;
}

/* Index of the '}' matching the '{' at i (n if none). */
static Py_ssize_t match_brace(int kind, const void *data, Py_ssize_t n, Py_ssize_t i)
{
    Py_ssize_t depth = 0;

    while (i < n) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c == '"' || c == '\'') {
            i = skip_literal(kind, data, n, i);
            continue;
        }
        if (c == '{')
            depth++;
        else if (c == '}' && --depth == 0)
            return i;
        i++;
    }
    return n;
}

static int add(PyObject *list, Py_ssize_t start, Py_ssize_t end, Py_ssize_t open, Py_ssize_t close)
{
    PyObject *item = Py_BuildValue("(nnnn)", start, end, open, close);
    int rc;

    if (!item)
        return -1;
    rc = PyList_Append(list, item);
    Py_DECREF(item);
    return rc;
}

static PyObject *split_top(PyObject *self, PyObject *text)
{
    Py_ssize_t n, i, start = 0, depth = 0, parens = 0;
    Py_UCS4 last = ';';
    int kind, at_line_start = 1;
    const void *data;
    PyObject *out;

    (void)self;
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "split_top() takes a str");
        return NULL;
    }
    n = PyUnicode_GET_LENGTH(text);
    kind = PyUnicode_KIND(text);
    data = PyUnicode_DATA(text);
    out = PyList_New(0);
    if (!out)
        return NULL;
    for (i = 0; i < n;) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c == '\n') {
            at_line_start = 1;
            i++;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            i++;
            continue;
        }
        if (c == '#' && at_line_start) {
            i = skip_line(kind, data, n, i);
            continue;
        }
        at_line_start = 0;
        if (c == '"' || c == '\'') {
            i = skip_literal(kind, data, n, i);
            last = c;
            continue;
        }
        if (c == '(')
            parens++;
        else if (c == ')' && parens > 0)
            parens--;
        else if (c == '{') {
            /* A body after a declarator's ')' (or after K&R parameter declarations). */
            if (depth == 0 && parens == 0 && (last == ')' || last == ';')) {
                Py_ssize_t close = match_brace(kind, data, n, i);
                Py_ssize_t end = close < n ? close + 1 : n;
                if (add(out, start, end, i, close) < 0)
                    goto fail;
                start = i = end;
                last = ';';
                continue;
            }
            depth++;
        } else if (c == '}') {
            if (depth > 0)
                depth--;
        } else if (c == ';' && depth == 0 && parens == 0) {
            if (add(out, start, i + 1, -1, -1) < 0)
                goto fail;
            start = i + 1;
            last = ';';
            i++;
            continue;
        }
        last = c;
        i++;
    }
    for (i = start; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (!Py_UNICODE_ISSPACE(c)) {
            if (add(out, start, n, -1, -1) < 0)
                goto fail;
            break;
        }
    }
    return out;

fail:
    Py_DECREF(out);
    return NULL;
}

static PyMethodDef methods[] = {
    {"split_top", split_top, METH_O,
     "split_top(text) -> [(start, end, body_open, body_close)]: the top-level declarations and "
     "function definitions of preprocessed C; body_open/body_close are -1 for a declaration."},
    {NULL, NULL, 0, NULL}};

static PyModuleDef_Slot slots[] = {
#ifdef Py_mod_gil
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL}};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "cx._cscan",
    "Cuts preprocessed C into top-level declarations (internal).", 0, methods, slots,
};

PyMODINIT_FUNC PyInit__cscan(void)
{
    return PyModuleDef_Init(&module);
}
