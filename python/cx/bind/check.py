"""The compiler's word on struct layouts, asked when struct classes are made (private to the binding).

A ``ctypes`` class laid out otherwise than the compiler lays out the struct (``aligned(16)``, an
unusual bit-field) would pass wrong memory to C: :class:`cx.bind.types.TypeTable` compares every
class it makes with the numbers this module gets from the compiler, and refuses a class that
differs.
"""
from __future__ import annotations

import ctypes

from ..errors import CxError

__all__ = ["checker", "field_sizes", "c_name"]


def c_name(decl):
    """How C names the struct or union ``decl``: ``struct point``, or its typedef name."""
    if decl.tag:
        return f"{'union' if decl.union else 'struct'} {decl.tag}"
    return decl.name


def checker(declarations, build):
    """What :class:`cx.bind.types.TypeTable` uses to check the struct classes it makes: a function
    ``structs -> {name: (sizeof, {field: offsetof})}`` that asks the compiler.

    Unlike :func:`cx.layout` (one struct, every detail, for a person), this asks about many structs at
    once and runs nothing: the numbers are constants in a table, which ``build(text)`` compiles
    and the table is read from the resulting code's ``__cx_asked`` symbol. Bit-fields are left
    to ctypes (no ``offsetof`` names them). A text the compiler does not take (gcc's view of a
    system header) gives ``{}``: nothing to check against, the classes stand as ctypes makes them.
    """
    def ask(structs):
        queries, order = [], []
        for st in structs:
            if st.name.startswith("<"):
                continue  # an anonymous struct has no name to ask about
            fields = [f.name for f in st.fields if f.name and f.bits is None]
            spelled = c_name(st)
            queries += [f"sizeof({spelled})"] + [f"__builtin_offsetof({spelled}, {f})" for f in fields]
            order.append((st.name, fields))
        if not order:
            return {}
        values = _asked(build, declarations.type_source(structs), queries)
        if values is None:
            return {}
        out, i = {}, 0
        for name, fields in order:
            out[name] = (values[i], dict(zip(fields, values[i + 1:i + 1 + len(fields)])))
            i += 1 + len(fields)
        return out

    return ask


def field_sizes(declarations, build):
    """``ask(struct, fields) -> {field: sizeof}``: the compiler's size of fields whose array length
    the reader could not work out (``digest[sizeof(XXH128_hash_t)]``: a ``sizeof`` of a struct is
    the compiler's to say). ``{}`` when the compiler takes no such question (a flexible array
    member has no size: it stays one)."""
    def ask(st, fields):
        spelled = c_name(st)
        values = _asked(build, declarations.type_source([st]), [f"sizeof(((({spelled} *)0)->{f}))" for f in fields])
        return {} if values is None else dict(zip(fields, values))

    return ask


def _asked(build, types, queries):
    """The compiler's values of ``queries`` (constant expressions over the ``types`` text), from a
    table it compiles and nothing runs; None when it does not take the text."""
    try:
        code = build(types + f"\nunsigned long __cx_asked[] = {{ {', '.join(queries)} }};\n")
    except CxError:
        return None
    try:
        return (ctypes.c_ulong * len(queries)).from_address(code.sym("__cx_asked"))[:]
    finally:
        code.close()
