"""Building: from a source and its options to machine code.

- :mod:`.record`: the one record of how a module was built (:class:`Build`), and the backend's
  :class:`Settings` made from it;
- :mod:`.libjit`: loads libjit (the C shim around TinyCC) and declares its API;
- :mod:`.tls` and :mod:`.unit`: the translation unit a backend compiles (``_Thread_local`` for
  TinyCC, the crash guard's end marker);
- :mod:`.backends`: TinyCC in memory, or the system compiler with a cache on disk;
- :mod:`.steps`: the steps of one compile;
- :mod:`.api`: which headers are the API :func:`cx.include` binds (not the system's it includes);
- :mod:`.cache`: this process's modules by record (what unpickling rebuilds).
"""
from .record import Build, Settings

__all__ = ["Build", "Settings"]
