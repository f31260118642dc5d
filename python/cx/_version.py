"""cx's version, in one place: the package, setup.cfg and the cc backend's cache key read it."""
__version__ = "0.1.0"
