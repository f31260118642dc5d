"""What runs around compiled code while a process uses it.

- :mod:`.guard`: the crash and interrupt guard (libjit's signal handlers; exceptions that name the
  C function and line);
- :mod:`.flood`: a rate limit for C output in a notebook (Jupyter's own);
- :mod:`.spill`: what the limit does not show, kept in a file the cell names;
- :mod:`.capture`: C's ``stdout``/``stderr`` routed into Python's ``sys.stdout``/``sys.stderr``.

Their C (the SIGINT handler, the capture writer) is ``runtime/_native.c``, built with cx.
"""
