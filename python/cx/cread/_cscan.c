/*
 * _cscan.c -- cx.cread._cscan: cuts preprocessed C into its top-level declarations (internal).
 *
 * One job, done in C because a source the size of an amalgamation is megabytes of text: find where
 * each file-scope declaration or function definition starts and ends, skipping string and character
 * literals and function bodies. The text is the compiler preprocessor's output (no comments, no
 * macros); lines starting with '#' (line markers, pragmas) are skipped.
 *
 * Bulk data is passed over here, never handed to Python: the braces of an initializer
 * (`static const unsigned short t[] = {...};`, megabytes in a Unicode library) are matched in C and
 * a declaration that has them comes with its outline, the text with each initializer's braces
 * emptied, which is all the view's index reads of it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* Character classes, ASCII answered inline (the text is almost always ASCII). */
static inline int is_ident_start(Py_UCS4 c)
{
    if (c < 128)
        return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    return Py_UNICODE_ISALPHA(c);
}

static inline int is_ident(Py_UCS4 c)
{
    if (c < 128)
        return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    return Py_UNICODE_ISALNUM(c);
}

static inline int is_space(Py_UCS4 c)
{
    if (c < 128)
        return c == ' ' || (c >= '\t' && c <= '\r');
    return Py_UNICODE_ISSPACE(c);
}

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

/* Whether text[start:end) spells typedef, struct, union or enum as a word (outside literals). */
static int declares_types(int kind, const void *data, Py_ssize_t start, Py_ssize_t end)
{
    static const char *const words[] = {"typedef", "struct", "union", "enum"};
    Py_ssize_t i = start;

    while (i < end) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c == '"' || c == '\'') {
            i = skip_literal(kind, data, end, i);
            continue;
        }
        if (is_ident_start(c)) {
            Py_ssize_t j = i;
            while (j < end) {
                Py_UCS4 d = PyUnicode_READ(kind, data, j);
                if (!is_ident(d))
                    break;
                j++;
            }
            for (int w = 0; w < 4; w++) {
                Py_ssize_t n = (Py_ssize_t)strlen(words[w]), k;
                if (j - i != n)
                    continue;
                for (k = 0; k < n && PyUnicode_READ(kind, data, i + k) == (Py_UCS4)words[w][k]; k++)
                    ;
                if (k == n)
                    return 1;
            }
            i = j;
            continue;
        }
        i++;
    }
    return 0;
}

/* The ranges whose chunks are all kept: a list of (start, end) offsets, sorted. */
struct ranges {
    Py_ssize_t *bounds;
    Py_ssize_t count, next;
};

static int in_ranges(struct ranges *r, Py_ssize_t offset)
{
    while (r->next < r->count && r->bounds[2 * r->next + 1] <= offset)
        r->next++;
    return r->next < r->count && r->bounds[2 * r->next] <= offset;
}

static int word_is(int kind, const void *data, Py_ssize_t i, Py_ssize_t j, const char *word)
{
    Py_ssize_t k, n = (Py_ssize_t)strlen(word);

    if (j - i != n)
        return 0;
    for (k = 0; k < n; k++)
        if (PyUnicode_READ(kind, data, i + k) != (Py_UCS4)word[k])
            return 0;
    return 1;
}

/* What a word of a definition's head is: 0 an identifier, 1 a GNU group keyword whose
 * parenthesised group follows (__attribute__((...))), 2 a C keyword (never the name), 3 static. */
static const struct { const char *word; Py_ssize_t length; int what; } head_words[] = {
#define W(word, what) {word, (Py_ssize_t)sizeof word - 1, what}
    W("__attribute__", 1), W("__attribute", 1), W("__declspec", 1), W("__asm__", 1), W("__asm", 1),
    W("asm", 1), W("__typeof__", 1), W("typeof", 1), W("_Alignas", 1),
    W("void", 2), W("char", 2), W("short", 2), W("int", 2), W("long", 2), W("float", 2),
    W("double", 2), W("signed", 2), W("unsigned", 2), W("_Bool", 2), W("const", 2),
    W("volatile", 2), W("extern", 2), W("inline", 2), W("struct", 2), W("union", 2), W("enum", 2),
    W("register", 2), W("_Noreturn", 2), W("_Atomic", 2), W("restrict", 2), W("static", 3),
#undef W
};

static int head_word(int kind, const void *data, Py_ssize_t i, Py_ssize_t j)
{
    Py_UCS4 first = PyUnicode_READ(kind, data, i);

    for (size_t w = 0; w < sizeof head_words / sizeof head_words[0]; w++) {
        if (head_words[w].length != j - i || (Py_UCS4)head_words[w].word[0] != first)
            continue;
        if (word_is(kind, data, i, j, head_words[w].word))
            return head_words[w].what;
    }
    return 0;
}

/* For a function definition's head [start, end): its name (the first identifier a '(' follows,
 * past GNU attribute groups), or NULL; *is_static when `static` comes before it. */
static PyObject *definition_name(PyObject *text, int kind, const void *data, Py_ssize_t start,
                                 Py_ssize_t end, int *is_static)
{
    Py_ssize_t i = start;

    *is_static = 0;
    while (i < end) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (is_ident_start(c)) {
            Py_ssize_t j = i, k;
            int group;
            while (j < end && is_ident(PyUnicode_READ(kind, data, j)))
                j++;
            for (k = j; k < end && is_space(PyUnicode_READ(kind, data, k)); k++)
                ;
            group = head_word(kind, data, i, j); /* int (*f(int))(int): a keyword is never the name */
            if (group == 3) {
                *is_static = 1;
                group = 2;
            }
            if (k < end && PyUnicode_READ(kind, data, k) == '(') {
                if (!group)
                    return PyUnicode_Substring(text, i, j);
                if (group == 2) {
                    i = j;
                    continue;
                }
                /* skip the attribute's parenthesised group */
                Py_ssize_t depth = 0;
                for (; k < end; k++) {
                    Py_UCS4 d = PyUnicode_READ(kind, data, k);
                    if (d == '(')
                        depth++;
                    else if (d == ')' && --depth == 0)
                        break;
                }
                i = k + 1;
                continue;
            }
            i = j;
            continue;
        }
        i++;
    }
    return NULL;
}

/* The initializers' brace groups of the declaration being scanned: (open, close) offsets. */
struct spans {
    Py_ssize_t *at;
    Py_ssize_t count, size;
};

static int spans_add(struct spans *sp, Py_ssize_t open, Py_ssize_t close)
{
    if (sp->count == sp->size) {
        Py_ssize_t size = sp->size ? 2 * sp->size : 8;
        Py_ssize_t *at = PyMem_Resize(sp->at, Py_ssize_t, 2 * size);
        if (!at) {
            PyErr_NoMemory();
            return -1;
        }
        sp->at = at;
        sp->size = size;
    }
    sp->at[2 * sp->count] = open;
    sp->at[2 * sp->count + 1] = close;
    sp->count++;
    return 0;
}

/* text[start:end) with the inside of each span [open, close] (within it) left out: `= {}`. */
static PyObject *outline(PyObject *text, Py_ssize_t start, Py_ssize_t end, const struct spans *sp)
{
    PyObject *parts = PyList_New(0), *sep, *out = NULL;
    Py_ssize_t at = start;

    if (!parts)
        return NULL;
    for (Py_ssize_t k = 0; k < sp->count; k++) {
        Py_ssize_t open = sp->at[2 * k], close = sp->at[2 * k + 1];
        if (open < at || close >= end)
            continue;
        PyObject *piece = PyUnicode_Substring(text, at, open + 1);
        if (!piece || PyList_Append(parts, piece) < 0) {
            Py_XDECREF(piece);
            Py_DECREF(parts);
            return NULL;
        }
        Py_DECREF(piece);
        at = close;
    }
    PyObject *piece = PyUnicode_Substring(text, at, end);
    if (piece && PyList_Append(parts, piece) == 0 && (sep = PyUnicode_FromStringAndSize("", 0))) {
        out = PyUnicode_Join(sep, parts);
        Py_DECREF(sep);
    }
    Py_XDECREF(piece);
    Py_DECREF(parts);
    return out;
}

static int add(PyObject *list, PyObject *text, int kind, const void *data, Py_ssize_t start,
               Py_ssize_t end, Py_ssize_t open, Py_ssize_t close, int inside, const struct spans *sp)
{
    PyObject *item, *name = NULL, *lines = Py_None;
    int is_static = 0, rc;

    if (open >= 0) {
        name = definition_name(text, kind, data, start, open, &is_static);
        if (!name && PyErr_Occurred())
            return -1;
    }
    if (open < 0 && sp && sp->count) {
        lines = outline(text, start, end, sp);
        if (!lines) {
            Py_XDECREF(name);
            return -1;
        }
    } else
        Py_INCREF(lines);
    item = PyTuple_New(8);
    if (!item) {
        Py_XDECREF(name);
        Py_DECREF(lines);
        return -1;
    }
    PyTuple_SET_ITEM(item, 0, PyLong_FromSsize_t(start));
    PyTuple_SET_ITEM(item, 1, PyLong_FromSsize_t(end));
    PyTuple_SET_ITEM(item, 2, PyLong_FromSsize_t(open));
    PyTuple_SET_ITEM(item, 3, PyLong_FromSsize_t(close));
    if (!name) {
        name = Py_None;
        Py_INCREF(name);
    }
    PyTuple_SET_ITEM(item, 4, name); /* the reference moves in */
    PyTuple_SET_ITEM(item, 5, PyBool_FromLong(is_static));
    PyTuple_SET_ITEM(item, 6, PyBool_FromLong(inside));
    PyTuple_SET_ITEM(item, 7, lines); /* the reference moves in */
    for (int k = 0; k < 4; k++)
        if (!PyTuple_GET_ITEM(item, k)) {
            Py_DECREF(item);
            return -1;
        }
    rc = PyList_Append(list, item);
    Py_DECREF(item);
    return rc;
}

/* Append the chunk [start, end) (body [open, close], or -1) unless a filter leaves it out. */
static int keep(PyObject *out, PyObject *text, int kind, const void *data, struct ranges *r,
                Py_ssize_t start, Py_ssize_t end, Py_ssize_t open, Py_ssize_t close, const struct spans *sp)
{
    Py_ssize_t first = start;

    for (;;) { /* the first character of code: past blanks and marker lines */
        while (first < end && is_space(PyUnicode_READ(kind, data, first)))
            first++;
        if (first < end && PyUnicode_READ(kind, data, first) == '#'
            && (first == 0 || PyUnicode_READ(kind, data, first - 1) == '\n'))
            first = skip_line(kind, data, end, first);
        else
            break;
    }
    int inside = !r || in_ranges(r, first);

    if (!inside) { /* a type's words come before any initializer */
        Py_ssize_t upto = open >= 0 ? open : end;
        if (open < 0 && sp && sp->count && sp->at[0] < upto)
            upto = sp->at[0];
        if (!declares_types(kind, data, first, upto))
            return 0;
    }
    return add(out, text, kind, data, first, end, open, close, inside, sp);
}

static PyObject *split_top(PyObject *self, PyObject *args)
{
    Py_ssize_t n, i, start = 0, depth = 0, parens = 0;
    Py_UCS4 last = ';';
    int kind, at_line_start = 1;
    const void *data;
    PyObject *text, *keep_ranges = Py_None, *out;
    struct ranges ranges = {NULL, 0, 0}, *r = NULL;
    struct spans spans = {NULL, 0, 0};

    (void)self;
    if (!PyArg_ParseTuple(args, "U|O:split_top", &text, &keep_ranges))
        return NULL;
    if (keep_ranges != Py_None) {
        PyObject *seq = PySequence_Fast(keep_ranges, "split_top(): ranges must be a sequence");
        if (!seq)
            return NULL;
        ranges.count = PySequence_Fast_GET_SIZE(seq);
        ranges.bounds = PyMem_New(Py_ssize_t, 2 * ranges.count + 1);
        if (!ranges.bounds) {
            Py_DECREF(seq);
            return PyErr_NoMemory();
        }
        for (i = 0; i < ranges.count; i++) {
            if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "nn", &ranges.bounds[2 * i],
                                  &ranges.bounds[2 * i + 1])) {
                PyMem_Free(ranges.bounds);
                Py_DECREF(seq);
                return NULL;
            }
        }
        Py_DECREF(seq);
        r = &ranges;
    }
    n = PyUnicode_GET_LENGTH(text);
    kind = PyUnicode_KIND(text);
    data = PyUnicode_DATA(text);
    out = PyList_New(0);
    if (!out) {
        PyMem_Free(ranges.bounds);
        return NULL;
    }
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
                if (keep(out, text, kind, data, r, start, end, i, close, NULL) < 0)
                    goto fail;
                spans.count = 0;
                start = i = end;
                last = ';';
                continue;
            }
            if (depth == 0 && parens == 0 && last == '=') {
                /* an initializer's braces: matched here, its data never scanned again */
                Py_ssize_t close = match_brace(kind, data, n, i);
                if (close >= n) {
                    depth++;
                    last = c;
                    i++;
                    continue;
                }
                if (spans_add(&spans, i, close) < 0)
                    goto fail;
                last = '}';
                i = close + 1;
                continue;
            }
            depth++;
        } else if (c == '}') {
            if (depth > 0)
                depth--;
        } else if (c == ';' && depth == 0 && parens == 0) {
            if (keep(out, text, kind, data, r, start, i + 1, -1, -1, &spans) < 0)
                goto fail;
            spans.count = 0;
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
        if (!is_space(c)) {
            if (keep(out, text, kind, data, r, start, n, -1, -1, &spans) < 0)
                goto fail;
            break;
        }
    }
    PyMem_Free(ranges.bounds);
    PyMem_Free(spans.at);
    return out;

fail:
    PyMem_Free(ranges.bounds);
    PyMem_Free(spans.at);
    Py_DECREF(out);
    return NULL;
}

/* markers(text) -> [(offset, line, name)]: every line marker `# N "name" ...`; offset is where
 * the line after it starts (the line numbered N), name is as written (escapes kept). */
static PyObject *markers(PyObject *self, PyObject *text)
{
    Py_ssize_t n, i = 0;
    int kind;
    const void *data;
    PyObject *out;

    (void)self;
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "markers() takes a str");
        return NULL;
    }
    n = PyUnicode_GET_LENGTH(text);
    kind = PyUnicode_KIND(text);
    data = PyUnicode_DATA(text);
    out = PyList_New(0);
    if (!out)
        return NULL;
    while (i < n) {
        Py_ssize_t j = i, line = 0, name_start, name_end;
        if (j + 2 < n && PyUnicode_READ(kind, data, j) == '#' && PyUnicode_READ(kind, data, j + 1) == ' ') {
            j += 2;
            while (j < n && Py_UNICODE_ISDIGIT(PyUnicode_READ(kind, data, j)) && line < 100000000)
                line = line * 10 + (PyUnicode_READ(kind, data, j++) - '0');
            if (j + 1 < n && j > i + 2 && PyUnicode_READ(kind, data, j) == ' '
                && PyUnicode_READ(kind, data, j + 1) == '"') {
                name_start = j += 2;
                while (j < n && PyUnicode_READ(kind, data, j) != '"' && PyUnicode_READ(kind, data, j) != '\n')
                    j += PyUnicode_READ(kind, data, j) == '\\' ? 2 : 1;
                name_end = j < n ? j : n;
                if (j < n && PyUnicode_READ(kind, data, j) == '"') {
                    Py_ssize_t next = skip_line(kind, data, n, j);
                    PyObject *name = PyUnicode_Substring(text, name_start, name_end);
                    PyObject *item = name ? Py_BuildValue("(nnN)", next, line, name) : NULL;
                    if (!item || PyList_Append(out, item) < 0) {
                        Py_XDECREF(item);
                        Py_DECREF(out);
                        return NULL;
                    }
                    Py_DECREF(item);
                    i = next;
                    continue;
                }
            }
        }
        i = skip_line(kind, data, n, i);
    }
    return out;
}

/* outside_braces(text) -> text with the inside of each outermost {...} left out ({} stays). */
static PyObject *outside_braces(PyObject *self, PyObject *text)
{
    Py_ssize_t n, i = 0;
    int kind;
    const void *data;
    struct spans spans = {NULL, 0, 0};
    PyObject *out;

    (void)self;
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "outside_braces() takes a str");
        return NULL;
    }
    n = PyUnicode_GET_LENGTH(text);
    kind = PyUnicode_KIND(text);
    data = PyUnicode_DATA(text);
    while (i < n) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c == '"' || c == '\'') {
            i = skip_literal(kind, data, n, i);
            continue;
        }
        if (c == '{') {
            Py_ssize_t close = match_brace(kind, data, n, i);
            if (spans_add(&spans, i, close < n ? close : n) < 0) {
                PyMem_Free(spans.at);
                return NULL;
            }
            i = close + 1;
            continue;
        }
        i++;
    }
    if (!spans.count) {
        Py_INCREF(text);
        return text;
    }
    if (spans.at[2 * spans.count - 1] == n) { /* unclosed: its rest goes, its brace stays */
        PyObject *head = outline(text, 0, spans.at[2 * spans.count - 2] + 1,
                                 &(struct spans){spans.at, spans.count - 1, spans.size});
        PyMem_Free(spans.at);
        return head;
    }
    out = outline(text, 0, n, &spans);
    PyMem_Free(spans.at);
    return out;
}

/* The words whose parenthesised group is blanked before a declaration's names are read. */
static int gnu_group_word(int kind, const void *data, Py_ssize_t i, Py_ssize_t j)
{
    static const char *const words[] = {"__attribute__", "__attribute", "__declspec", "__asm__", "__asm",
                                        "asm", "__typeof__", "typeof", "_Alignas", "__alignof__", "_Alignof"};

    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++)
        if (word_is(kind, data, i, j, words[w]))
            return 1;
    return 0;
}

static int token_is(int kind, const void *data, const Py_ssize_t *tok, char c)
{
    return tok[1] - tok[0] == 1 && PyUnicode_READ(kind, data, tok[0]) == (Py_UCS4)c;
}

static int is_tag_word(int kind, const void *data, const Py_ssize_t *tok)
{
    return word_is(kind, data, tok[0], tok[1], "struct") || word_is(kind, data, tok[0], tok[1], "union")
           || word_is(kind, data, tok[0], tok[1], "enum");
}

/* Whether the token's text is in the set (a str made for the lookup): 1, 0, or -1 on error. */
static int token_in(PyObject *text, const Py_ssize_t *tok, PyObject *set)
{
    PyObject *word = PyUnicode_Substring(text, tok[0], tok[1]);
    int rc;

    if (!word)
        return -1;
    rc = PySequence_Contains(set, word);
    Py_DECREF(word);
    return rc;
}

/* declarator_names(outer, typedefs, specifiers, type_words) -> [names]: see view._declarator_names. */
static PyObject *declarator_names(PyObject *self, PyObject *args)
{
    PyObject *text, *typedefs, *specifiers, *type_words, *names = NULL;
    Py_ssize_t n, i = 0, count = 0, size = 64, *toks;
    int kind, depth = 0, expecting = 1, initializer = 0, typed = 0;
    const void *data;

    (void)self;
    if (!PyArg_ParseTuple(args, "UOOO:declarator_names", &text, &typedefs, &specifiers, &type_words))
        return NULL;
    n = PyUnicode_GET_LENGTH(text);
    kind = PyUnicode_KIND(text);
    data = PyUnicode_DATA(text);
    toks = PyMem_New(Py_ssize_t, 2 * size);
    if (!toks)
        return PyErr_NoMemory();
    /* the tokens: identifiers and single non-blank characters, GNU groups left out */
    while (i < n) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        Py_ssize_t j = i + 1;
        if (is_space(c)) {
            i++;
            continue;
        }
        if (c < 128 ? (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) : 0) {
            while (j < n && is_ident(PyUnicode_READ(kind, data, j)))
                j++;
            Py_ssize_t k = j;
            while (k < n && is_space(PyUnicode_READ(kind, data, k)))
                k++;
            if (k < n && PyUnicode_READ(kind, data, k) == '(' && gnu_group_word(kind, data, i, j)) {
                Py_ssize_t level = 0;
                for (; k < n; k++) {
                    Py_UCS4 d = PyUnicode_READ(kind, data, k);
                    if (d == '(')
                        level++;
                    else if (d == ')' && --level == 0)
                        break;
                }
                i = k + 1;
                continue;
            }
        }
        if (count == size) {
            Py_ssize_t *more = PyMem_Realloc(toks, 4 * size * sizeof *toks);
            if (!more) {
                PyErr_NoMemory();
                goto fail;
            }
            toks = more;
            size *= 2;
        }
        toks[2 * count] = i;
        toks[2 * count + 1] = j;
        count++;
        i = j;
    }
    names = PyList_New(0);
    if (!names)
        goto fail;
    for (Py_ssize_t t = 0; t < count; t++) {
        const Py_ssize_t *tok = toks + 2 * t;
        Py_UCS4 first = PyUnicode_READ(kind, data, tok[0]);
        int rc;
        if (tok[1] - tok[0] == 1 && (first == '(' || first == '[' || first == '{')) {
            depth++;
            continue;
        }
        if (tok[1] - tok[0] == 1 && (first == ')' || first == ']' || first == '}')) {
            depth--;
            continue;
        }
        if (depth == 0 && token_is(kind, data, tok, '=')) {
            initializer = 1;
            continue;
        }
        if (depth == 0 && token_is(kind, data, tok, ',')) {
            expecting = 1;
            initializer = 0;
            continue;
        }
        if (initializer || !expecting || !(first == '_' || (first < 128 ? ((first | 32) >= 'a' && (first | 32) <= 'z')
                                                                        : Py_UNICODE_ISALPHA(first))))
            continue;
        int after_tag = t > 0 && is_tag_word(kind, data, tok - 2);
        if (after_tag || (rc = token_in(text, tok, specifiers)) != 0) {
            if (!after_tag && rc < 0)
                goto fail;
            if (!typed) {
                if (after_tag)
                    typed = 1;
                else if ((rc = token_in(text, tok, type_words)) < 0)
                    goto fail;
                else
                    typed = rc;
            }
            continue;
        }
        if (!typed) {
            if ((rc = token_in(text, tok, typedefs)) < 0)
                goto fail;
            if (rc) {
                typed = 1;
                continue;
            }
        }
        if (t + 1 < count && token_is(kind, data, tok + 2, '(') && t + 2 < count
            && (token_is(kind, data, tok + 4, '*') || token_is(kind, data, tok + 4, '^'))) {
            typed = 1; /* T (*name)(...): T is the type, known or not */
            continue;
        }
        int named = t + 1 >= count; /* the end reads as ';' */
        if (!named) {
            const Py_ssize_t *next = tok + 2;
            static const char after[] = ")[(;,=:";
            for (const char *a = after; *a && !named; a++)
                named = token_is(kind, data, next, *a);
        }
        if (named) {
            PyObject *name = PyUnicode_Substring(text, tok[0], tok[1]);
            if (!name || PyList_Append(names, name) < 0) {
                Py_XDECREF(name);
                goto fail;
            }
            Py_DECREF(name);
            expecting = 0;
        }
    }
    PyMem_Free(toks);
    return names;

fail:
    PyMem_Free(toks);
    Py_XDECREF(names);
    return NULL;
}

/* words(text) -> set of the identifiers of text (an ASCII letter or '_', then word characters),
 * strings and comments not told apart: re.findall(r"[A-Za-z_]\w*", text), as a set. */
static PyObject *words(PyObject *self, PyObject *text)
{
    Py_ssize_t n, i = 0;
    int kind;
    const void *data;
    PyObject *out;

    (void)self;
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "words() takes a str");
        return NULL;
    }
    n = PyUnicode_GET_LENGTH(text);
    kind = PyUnicode_KIND(text);
    data = PyUnicode_DATA(text);
    out = PySet_New(NULL);
    if (!out)
        return NULL;
    while (i < n) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            Py_ssize_t j = i + 1;
            while (j < n && is_ident(PyUnicode_READ(kind, data, j)))
                j++;
            PyObject *word = PyUnicode_Substring(text, i, j);
            if (!word || PySet_Add(out, word) < 0) {
                Py_XDECREF(word);
                Py_DECREF(out);
                return NULL;
            }
            Py_DECREF(word);
            i = j;
            continue;
        }
        i++; /* as the regex: a word may start after a digit (in 1abc, abc) */
    }
    return out;
}

/* use_of(text, name): bit 1 when `name(` is in text (name a whole word, spaces allowed before the
 * parenthesis: re.search(r"\bNAME\s*\(")), bit 2 when `(*name` is (r"\(\s*\*\s*NAME\b"). */
static PyObject *use_of(PyObject *self, PyObject *args)
{
    PyObject *text, *name;
    Py_ssize_t n, m, at;
    int kind, nkind, found = 0;
    const void *data, *ndata;

    (void)self;
    if (!PyArg_ParseTuple(args, "UU:use_of", &text, &name))
        return NULL;
    n = PyUnicode_GET_LENGTH(text);
    m = PyUnicode_GET_LENGTH(name);
    kind = PyUnicode_KIND(text);
    data = PyUnicode_DATA(text);
    nkind = PyUnicode_KIND(name);
    ndata = PyUnicode_DATA(name);
    if (m == 0)
        return PyLong_FromLong(0);
    for (at = 0; at + m <= n && found != 3; at++) {
        Py_ssize_t k, j;

        if (at > 0 && is_ident(PyUnicode_READ(kind, data, at - 1)))
            continue;
        for (k = 0; k < m && PyUnicode_READ(kind, data, at + k) == PyUnicode_READ(nkind, ndata, k); k++)
            ;
        if (k < m || (at + m < n && is_ident(PyUnicode_READ(kind, data, at + m))))
            continue; /* not the whole word */
        for (j = at + m; j < n && is_space(PyUnicode_READ(kind, data, j)); j++)
            ;
        if (j < n && PyUnicode_READ(kind, data, j) == '(')
            found |= 1;
        for (j = at - 1; j >= 0 && is_space(PyUnicode_READ(kind, data, j)); j--)
            ;
        if (j >= 0 && PyUnicode_READ(kind, data, j) == '*') {
            for (j--; j >= 0 && is_space(PyUnicode_READ(kind, data, j)); j--)
                ;
            if (j >= 0 && PyUnicode_READ(kind, data, j) == '(')
                found |= 2;
        }
    }
    return PyLong_FromLong(found);
}

static PyMethodDef methods[] = {
    {"markers", markers, METH_O,
     "markers(text) -> [(offset, line, name)]: the line markers of preprocessed C; offset is where "
     "the line numbered `line` of file `name` starts."},
    {"split_top", split_top, METH_VARARGS,
     "split_top(text, ranges=None) -> [(start, end, body_open, body_close, name, static, inside, "
     "outline)]: the top-level declarations and function definitions of preprocessed C (start: the "
     "first character of code); body_open/body_close are -1 for a declaration; a definition's name "
     "and whether `static` precedes it (None, 0 for a declaration). With ranges, a sorted list of "
     "(start, end) offsets, a chunk outside them is listed only if it spells typedef, struct, "
     "union or enum before any initializer, and inside says whether it starts in one (always 1 "
     "without ranges). outline: for a declaration with braced initializers, its text with each "
     "initializer's braces emptied (`= {}`), else None."},
    {"declarator_names", declarator_names, METH_VARARGS,
     "declarator_names(outer, typedefs, specifiers, type_words) -> [name]: the names a declaration "
     "declares (its braces emptied: see outside_braces), GNU attribute and asm groups left out. "
     "specifiers: the words that are never a name (a word after struct/union/enum is a tag); "
     "type_words: those that make what follows a declarator; typedefs: the type names known."},
    {"words", words, METH_O,
     "words(text) -> set: the identifiers of text (set(re.findall(r'[A-Za-z_]\\w*', text))), "
     "in string literals and comments too."},
    {"use_of", use_of, METH_VARARGS,
     "use_of(text, name) -> int: 1 if `name(` is in text (a whole word, spaces before the "
     "parenthesis allowed), | 2 if `(*name` is (spaces allowed): a function's declarator, a "
     "pointer's."},
    {"outside_braces", outside_braces, METH_O,
     "outside_braces(text) -> text with the inside of every outermost {...} left out (`{}` "
     "stays; an unclosed one loses the rest of the text); string and character literals are "
     "skipped."},
    {NULL, NULL, 0, NULL}};

static PyModuleDef_Slot slots[] = {
#ifdef Py_mod_gil
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL}};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "cx.cread._cscan",
    "Cuts preprocessed C into top-level declarations (internal).", 0, methods, slots,
};

PyMODINIT_FUNC PyInit__cscan(void)
{
    return PyModuleDef_Init(&module);
}
