/*
 * code.c -- looking at compiled code (layer 10, the public API of jit.h):
 * where a function's machine code is, how long it is, and which source
 * line each instruction belongs to.
 *
 * For tools that show what the compiler made of the source (cx's
 * disassembler). Nothing here is re-derived: sizes come from the ELF symbol
 * table and lines from the line tables that TinyCC keeps in memory for code
 * linked with -b or -bt (its backtrace support, which the crash guard
 * already uses: jit__source_line in where.c).
 *
 * Where TinyCC keeps that symbol table is its own business (tcc.c,
 * jit__tcc_elf_symbols); a TinyCC that does not keep it, or keeps it
 * elsewhere, falls back to the next-symbol rule below.
 */
#define _GNU_SOURCE /* ElfW */

#include <link.h>
#include <stdint.h>
#include <string.h>

#include "compile.h"

/* The ELF symbol table TinyCC keeps for j's code (-b/-bt), or 0. */
static int elf_symbols(jit_state *j, const ElfW(Sym) **start,
                       const ElfW(Sym) **end, const char **names)
{
    const void *s, *e;

    if (jit__tcc_elf_symbols(j->tcc, &s, &e, names) != 0
        || ((uintptr_t)e - (uintptr_t)s) % sizeof(ElfW(Sym)) != 0)
        return 0;
    *start = s;
    *end = e;
    return 1;
}

/* The end of j's own code: __cx_code_end (cx's wrappers define it last),
 * else the end of the text section. */
static uintptr_t code_end(jit_state *j)
{
    void *end = jit__tcc_get_symbol(j->tcc, "__cx_code_end");

    return (uintptr_t)(end ? end : jit__tcc_get_symbol(j->tcc, "_etext"));
}

struct next_symbol {
    uintptr_t after, limit, found;
};

static void find_next(void *ctx, const char *name, const void *val)
{
    struct next_symbol *n = ctx;
    uintptr_t v = (uintptr_t)val;

    (void)name;
    if (v > n->after && v <= n->limit && (!n->found || v < n->found))
        n->found = v;
}

static int check_compiled(jit_state *j, const char *what)
{
    if (!j)
        return JIT_EARG;
    if (j->phase != JIT_PHASE_COMPILED)
        return jit__fail(j, JIT_ESTATE, "%s: not compiled (call jit_compile "
                         "first, and check that it succeeded)", what);
    return JIT_OK;
}

JIT_API int jit_function_code(jit_state *j, const char *name,
                              const void **start, size_t *size)
{
    const ElfW(Sym) *sym, *syms_end;
    const char *names;
    struct next_symbol next;
    uintptr_t addr, text_start, text_end;
    int rc;

    if ((rc = check_compiled(j, "jit_function_code")) != JIT_OK)
        return rc;
    if (!name || !start || !size)
        return jit__fail_static(j, JIT_EARG, "jit_function_code: NULL argument");
    addr = (uintptr_t)jit__tcc_get_symbol(j->tcc, name);
    text_start = (uintptr_t)jit__tcc_get_symbol(j->tcc, "__jit_pad_text");
    text_end = (uintptr_t)jit__tcc_get_symbol(j->tcc, "_etext");
    if (!addr || !text_start || addr < text_start || addr >= text_end)
        return jit__fail_note(j, JIT_EARG, "jit_function_code: '%.200s' is "
                              "not a function of this code", name);
    *start = (const void *)addr;
    if (elf_symbols(j, &sym, &syms_end, &names)) {
        for (; sym < syms_end; sym++)
            if (sym->st_value == addr && (sym->st_info & 0xf) == STT_FUNC
                && sym->st_size && strcmp(names + sym->st_name, name) == 0) {
                *size = sym->st_size;
                return jit__succeed(j);
            }
    }
    next.after = addr;
    next.limit = code_end(j) > addr ? code_end(j) : text_end;
    next.found = 0;
    jit__tcc_list_symbols(j->tcc, &next, find_next);
    *size = (next.found ? next.found : next.limit) - addr;
    return jit__succeed(j);
}

JIT_API int jit_code_line(jit_state *j, const void *addr, char *file,
                          size_t file_size, char *func, size_t func_size)
{
    char file_buf[128], func_buf[128];
    const ElfW(Sym) *syms, *syms_end;
    const char *names;
    uintptr_t pc = (uintptr_t)addr, start;
    int line;

    if (check_compiled(j, "jit_code_line") != JIT_OK)
        return 0;
    if (file && file_size)
        file[0] = '\0';
    if (func && func_size)
        func[0] = '\0';
    start = (uintptr_t)jit__tcc_get_symbol(j->tcc, "__jit_pad_text");
    if (!elf_symbols(j, &syms, &syms_end, &names) || !start || pc < start || pc >= code_end(j))
        return 0;
    /* TinyCC's lookup gives the first byte of a line's code to the line
     * before (it is made for return addresses, which follow a call): ask
     * for the instruction's second byte, which is still inside it or, for a
     * one-byte instruction, the first byte of the next one -- either way
     * looked up as belonging to this instruction's line. */
    line = jit__source_line(pc + 1, file_buf, sizeof file_buf, func_buf, sizeof func_buf);
    if (line > 0) {
        if (file && file_size)
            jit__copy(file, file_size, file_buf);
        if (func && func_size)
            jit__copy(func, func_size, func_buf);
    }
    jit__succeed(j);
    return line;
}
