"""Binding: C declarations made callable and usable from Python through ctypes.

- :mod:`.scalars`: the one table of C scalar kinds;
- :mod:`.types`: ctypes types for a module's C types (structs, unions, typed pointers);
- :mod:`.check`: the compiler's word on struct layouts, asked when a struct class is made;
- :mod:`.callslot`: cx's own call slot (``_call.c`` in ``cx._speedups``) for a bound function;
- :mod:`.functions`: bound functions (with their :class:`FunctionInfo`) and global variables.
"""
from .functions import FunctionInfo, GlobalVariable, bind_function, trap_function
from .types import BindingError, CString, Pointer, TypeTable, string_at

__all__ = ["TypeTable", "Pointer", "CString", "BindingError", "FunctionInfo", "GlobalVariable", "bind_function",
           "trap_function", "string_at"]
