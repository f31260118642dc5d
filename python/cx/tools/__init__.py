"""Looking inside: tools that read what cx built, through its public descriptions.

- :mod:`.asm`: the machine code of a function beside its source lines (``lib.f.disassemble()``);
- :mod:`.layouts`: a struct's memory layout as the compiler laid it out (``cx.layout``);
- :mod:`.ctimeit`: a call timed in a loop that runs in C (``cx.timeit``, ``%cxtimeit``), whose
  loop is ``_timeit.c``, built with cx.

Each reads a bound function's :class:`cx.bind.FunctionInfo` (``f.info``), never its private
attributes.
"""
