/*
 * build/_libraries.c -- part of cx._speedups (see _speedups.h): which of a header's names a
 * shared library defines itself (cx.include). dlsym on a library's handle also finds what the
 * library only reaches through its own dependencies (libc's read through libz): an address is the
 * library's own when it lies in one of the library's loaded segments (dl_iterate_phdr, once; dladdr
 * per name searched every object's symbols). Done here for every name at once: a header declares
 * hundreds. And a library's own name (its soname), without asking ldconfig.
 */
#define _GNU_SOURCE /* dladdr */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <string.h>

#include "_speedups.h"

#define MAX_SEGMENTS 32

struct segments {
    const struct link_map *map; /* the library's, from dlinfo */
    int found, count;
    uintptr_t start[MAX_SEGMENTS], end[MAX_SEGMENTS];
};

static int collect_segments(struct dl_phdr_info *info, size_t size, void *data)
{
    struct segments *s = data;

    (void)size;
    if (info->dlpi_addr != s->map->l_addr || !info->dlpi_name || strcmp(info->dlpi_name, s->map->l_name) != 0)
        return 0;
    for (int i = 0; i < info->dlpi_phnum && s->count < MAX_SEGMENTS; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        if (p->p_type != PT_LOAD)
            continue;
        s->start[s->count] = info->dlpi_addr + p->p_vaddr;
        s->end[s->count] = s->start[s->count] + p->p_memsz;
        s->count++;
    }
    s->found = 1;
    return 1;
}

static int in_segments(const struct segments *s, const void *address)
{
    uintptr_t a = (uintptr_t)address;

    for (int i = 0; i < s->count; i++)
        if (a >= s->start[i] && a < s->end[i])
            return 1;
    return 0;
}

static PyObject *own_symbols(PyObject *module, PyObject *args)
{
    PyObject *handle_obj, *names, *seq, *out;
    const char *shown;
    void *handle;

    struct segments segments = {0};
    struct link_map *map = NULL;

    if (!PyArg_ParseTuple(args, "OsO:own_symbols", &handle_obj, &shown, &names))
        return NULL;
    handle = PyLong_AsVoidPtr(handle_obj);
    if (!handle) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "own_symbols: the library's handle is NULL");
        return NULL;
    }
    if (dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || !map) {
        PyErr_Format(PyExc_ValueError, "own_symbols: %s is not an open library", shown);
        return NULL;
    }
    segments.map = map;
    dl_iterate_phdr(collect_segments, &segments);
    if (!segments.found) {
        PyErr_Format(PyExc_ValueError, "own_symbols: the loaded segments of %s were not found", shown);
        return NULL;
    }
    if (!(seq = PySequence_Fast(names, "own_symbols: names must be a sequence of str")))
        return NULL;
    if (!(out = PyDict_New())) {
        Py_DECREF(seq);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i), *address;
        const char *name = PyUnicode_AsUTF8(item);
        void *found;

        if (!name)
            goto fail;
        if (!(found = dlsym(handle, name)) || !in_segments(&segments, found))
            continue; /* not there, or another object's: a dependency's */
        if (!(address = PyLong_FromVoidPtr(found)))
            goto fail;
        if (PyDict_SetItem(out, item, address) < 0) {
            Py_DECREF(address);
            goto fail;
        }
        Py_DECREF(address);
    }
    Py_DECREF(seq);
    return out;
fail:
    Py_DECREF(seq);
    Py_DECREF(out);
    return NULL;
}

/* soname(handle) -> str or None: the DT_SONAME of an opened library ("libz.so.1"), read from its
 * dynamic section in memory (glibc has made DT_STRTAB an address, except where that section is
 * read-only: MIPS, RISC-V, where it is still an offset from the load address). */
static PyObject *soname(PyObject *module, PyObject *handle_obj)
{
    struct link_map *map = NULL;
    const ElfW(Dyn) *d;
    uintptr_t strtab = 0, name = 0;
    int have_name = 0;
    void *handle = PyLong_AsVoidPtr(handle_obj);

    if (!handle) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "soname: the library's handle is NULL");
        return NULL;
    }
    if (dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || !map || !map->l_ld)
        Py_RETURN_NONE;
    for (d = map->l_ld; d->d_tag != DT_NULL; d++) {
        if (d->d_tag == DT_STRTAB)
            strtab = (uintptr_t)d->d_un.d_ptr;
        else if (d->d_tag == DT_SONAME) {
            name = (uintptr_t)d->d_un.d_val;
            have_name = 1;
        }
    }
    if (!have_name || !strtab)
        Py_RETURN_NONE;
    if (strtab < (uintptr_t)map->l_addr)
        strtab += (uintptr_t)map->l_addr;
    return PyUnicode_DecodeFSDefault((const char *)(strtab + name));
}

static PyMethodDef methods[] = {
    {"own_symbols", own_symbols, METH_VARARGS,
     "own_symbols(handle, shown, names) -> {name: address}: the names the shared library opened as "
     "handle defines itself, not through its dependencies (shown: its name for messages, 'libz.so.1')."},
    {"soname", soname, METH_O,
     "soname(handle) -> str or None: the DT_SONAME of the shared library opened as handle "
     "('libz.so.1')."},
    {NULL}};

int cx_libraries_init(PyObject *m)
{
    return PyModule_AddFunctions(m, methods);
}
