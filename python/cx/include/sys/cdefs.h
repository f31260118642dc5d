/* cx: TinyCC does not define __GNUC__, so glibc's <sys/cdefs.h> defines __attribute__(x) away and
 * silently drops packed, aligned, constructor and every other attribute after any libc header.
 * TinyCC implements those attributes: take glibc's header, then undo that one definition. */
#include_next <sys/cdefs.h>
#undef __attribute__
