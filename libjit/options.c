/*
 * options.c -- the whitelist behind jit_set_options.
 *
 * TinyCC's option parser also accepts options that write files (-o, -MF),
 * change the output type (-c, -E, -shared, -r), print and exit the whole
 * process (-dumpversion, -dumpmachine, -v with no input), read files
 * (@listfile, -include) or pass anything through (-Wl,..., -Wp,...). Only
 * the options listed in jit.h are let through, and only in spellings
 * TinyCC gives a meaning to: an unknown -W/-f name would otherwise be
 * ignored without a word.
 *
 * The string is split the way TinyCC splits it, every token is checked,
 * and only then are records produced. -D, -U and -I become the same
 * records as jit_define / jit_add_include_dir (applied in call order with
 * them, and never re-split by TinyCC); every other accepted token is a
 * bare word of [A-Za-z0-9=,-] and is handed to tcc_set_options on its own.
 */
#include <ctype.h>
#include <string.h>

#include "base.h"

#define ALLOWED "allowed: -O*, -g*, -W<warning>, -w, -std=c99|c11, " \
                "-f<language flag>, -b, -bt[N], -D, -U, -I"

/* -W names TinyCC knows (tcc -hh), without their "no-" prefix. */
static const char *const warning_names[] = {
    "all", "error", "write-strings", "unsupported",
    "implicit-function-declaration", "discarded-qualifiers", NULL
};

/* -f names that only change the language. Left out on purpose:
 * leading-underscore (changes every symbol name, so lookups and libc
 * resolution break) and test-coverage (writes a file at exit). */
static const char *const language_flags[] = {
    "unsigned-char", "signed-char", "common", "ms-extensions",
    "dollars-in-identifiers", "reverse-funcargs", "gnu89-inline",
    "asynchronous-unwind-tables", NULL
};

/* TinyCC gives -std a meaning only for c11/gnu11; c99 is its default.
 * Other values would be accepted and silently mean C99. */
static const char *const std_names[] = { "c99", "gnu99", "c11", "gnu11", NULL };

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static const char *skip_no(const char *s)
{
    return starts_with(s, "no-") ? s + 3 : s;
}

static int is_ident(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return 0;
    return 1;
}

const char *jit__check_define_name(const char *name)
{
    size_t n = strcspn(name, "(");
    const char *close;

    if (!is_ident(name, n))
        return "is not a C identifier";
    if (name[n] == '\0')
        return NULL;
    /* function-like macro: "F(a,b)" */
    close = strchr(name + n, ')');
    if (!close || close[1] != '\0' || strpbrk(name, "\r\n"))
        return "is not of the form NAME or NAME(params)";
    return NULL;
}

/* ---- tokens --------------------------------------------------------- */

/* Split options into NUL-separated tokens in out. Returns the count, or
 * -1 when out of memory. */
static int tokenize(const char *p, struct jit_buf *out)
{
    int count = 0;

    for (;;) {
        int quoted = 0;

        while (*p && (unsigned char)*p <= ' ')
            p++;
        if (!*p)
            return count;
        while (*p) {
            char c = *p++;
            if (c == '\\' && (*p == '"' || *p == '\\'))
                c = *p++;
            else if (c == '"') {
                quoted = !quoted;
                continue;
            } else if (!quoted && (unsigned char)c <= ' ')
                break;
            if (jit__buf_append(out, &c, 1) != JIT_OK)
                return -1;
        }
        if (jit__buf_append(out, "", 1) != JIT_OK)
            return -1;
        count++;
    }
}

/* ---- checks --------------------------------------------------------- */

static int check_O(const char *arg)
{
    return arg[0] == '\0' || (arg[1] == '\0' && strchr("0123sgz", arg[0]))
           || strcmp(arg, "fast") == 0;
}

static int check_g(const char *arg)
{
    if (arg[0] == '\0' || (arg[1] == '\0' && strchr("0123", arg[0])))
        return 1;
    if (strcmp(arg, "dwarf") == 0)
        return 1;
    return starts_with(arg, "dwarf-") && arg[6] && strchr("2345", arg[6])
           && arg[7] == '\0';
}

static int check_W(const char *arg)
{
    const char *name = skip_no(arg);

    if (starts_with(name, "error="))
        return in_list(name + 6, warning_names) && strcmp(name + 6, "error");
    return in_list(name, warning_names);
}

static int check_bt(const char *arg)
{
    for (; *arg; arg++)
        if (!isdigit((unsigned char)*arg))
            return 0;
    return 1;
}

/* Check one token (and, for "-D NAME" style, its argument next, which may
 * be NULL). Appends records to out. Returns the number of tokens used (1
 * or 2), 0 if refused (reason in why), or -1 when out of memory. */
static int check_token(const char *tok, const char *next,
                       struct jit_ops *out, struct jit_buf *why)
{
    const char *arg;
    int used = 1, rc = JIT_OK;

    if (tok[0] != '-') {
        jit__buf_printf(why, "'%s' is not an option (file names and "
                        "@listfiles cannot be given here)", tok);
        return 0;
    }
    switch (tok[1]) {
    case 'D': case 'U': case 'I':
        arg = tok + 2;
        if (!*arg) {
            if (!next) {
                jit__buf_printf(why, "'%s' needs an argument", tok);
                return 0;
            }
            arg = next;
            used = 2;
        }
        if (tok[1] == 'I') {
            if (strchr(arg, ':')) {
                jit__buf_printf(why, "'-I%s' contains ':' (TinyCC would "
                                "split it)", arg);
                return 0;
            }
            rc = jit__ops_push(out, JIT_OP_INCLUDE, arg, NULL, NULL);
        } else if (tok[1] == 'U') {
            if (!is_ident(arg, strlen(arg))) {
                jit__buf_printf(why, "'-U%s': not a C identifier", arg);
                return 0;
            }
            rc = jit__ops_push(out, JIT_OP_UNDEFINE, arg, NULL, NULL);
        } else {
            /* -DNAME or -DNAME=VALUE */
            size_t n = strcspn(arg, "=");
            char name[256];
            const char *bad;

            if (n >= sizeof name) {
                jit__buf_printf(why, "'-D%.40s...': macro name too long", arg);
                return 0;
            }
            memcpy(name, arg, n);
            name[n] = '\0';
            if ((bad = jit__check_define_name(name)) != NULL) {
                jit__buf_printf(why, "'-D%s': '%s' %s", arg, name, bad);
                return 0;
            }
            if (strpbrk(arg, "\r\n")) {
                jit__buf_printf(why, "'-D%s': the value contains a newline",
                                name);
                return 0;
            }
            rc = jit__ops_push(out, JIT_OP_DEFINE, name,
                               arg[n] ? arg + n + 1 : NULL, NULL);
        }
        return rc == JIT_OK ? used : -1;
    case 'O':
        if (!check_O(tok + 2))
            break;
        goto accept;
    case 'g':
        if (!check_g(tok + 2))
            break;
        goto accept;
    case 'W':
        if (starts_with(tok, "-Wl,") || starts_with(tok, "-Wp,")) {
            jit__buf_printf(why, "'%s' is refused: linker and preprocessor "
                            "pass-through options are not allowed", tok);
            return 0;
        }
        if (!check_W(tok + 2)) {
            jit__buf_printf(why, "'%s' is refused: TinyCC knows the "
                            "warnings all, error[=warning], write-strings, "
                            "unsupported, implicit-function-declaration, "
                            "discarded-qualifiers (each with no- prefix)",
                            tok);
            return 0;
        }
        goto accept;
    case 'w':
        if (tok[2])
            break;
        goto accept;
    case 'f':
        if (!in_list(skip_no(tok + 2), language_flags)) {
            jit__buf_printf(why, "'%s' is refused: the language flags are "
                            "[no-]unsigned-char, signed-char, common, "
                            "ms-extensions, dollars-in-identifiers, "
                            "reverse-funcargs, gnu89-inline, "
                            "asynchronous-unwind-tables", tok);
            return 0;
        }
        goto accept;
    case 's':
        if (!starts_with(tok, "-std="))
            break;
        if (!in_list(tok + 5, std_names)) {
            jit__buf_printf(why, "'%s' is refused: TinyCC knows -std=c99 "
                            "(its default) and -std=c11 (and gnu99, gnu11)",
                            tok);
            return 0;
        }
        goto accept;
    case 'b':
        if (strcmp(tok, "-b") == 0
            || (starts_with(tok, "-bt") && check_bt(tok + 3)))
            goto accept;
        break;
    case 'l':
        jit__buf_printf(why, "'%s' is refused: use jit_add_library", tok);
        return 0;
    case 'L':
        jit__buf_printf(why, "'%s' is refused: use jit_add_library_dir", tok);
        return 0;
    case 'i':
        if (starts_with(tok, "-isystem")) {
            jit__buf_printf(why, "'%s' is refused: use jit_add_sysinclude_dir",
                            tok);
            return 0;
        }
        break;
    default:
        break;
    }
    jit__buf_printf(why, "'%s' is refused (" ALLOWED ")", tok);
    return 0;

accept:
    return jit__ops_push(out, JIT_OP_OPTION, tok, NULL, NULL) == JIT_OK ? 1 : -1;
}

int jit__parse_options(const char *options, struct jit_ops *out,
                       struct jit_buf *why)
{
    struct jit_buf tokens = { 0 };
    struct jit_ops parsed = { 0 };
    const char *tok, *next;
    int count, i, used, rc = JIT_OK;

    count = tokenize(options, &tokens);
    if (count < 0) {
        jit__buf_free(&tokens);
        return JIT_ENOMEM;
    }
    tok = tokens.data;
    for (i = 0; i < count; i += used) {
        next = i + 1 < count ? tok + strlen(tok) + 1 : NULL;
        used = check_token(tok, next, &parsed, why);
        if (used <= 0) {
            rc = used < 0 ? JIT_ENOMEM : JIT_EOPTION;
            break;
        }
        tok = used == 2 ? next + strlen(next) + 1 : next;
    }
    if (rc == JIT_OK)
        rc = jit__ops_splice(out, &parsed);
    jit__ops_free(&parsed);
    jit__buf_free(&tokens);
    return rc;
}
