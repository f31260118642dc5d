"""Pickling by recipe (cx.recipe): in this process, and rebuilt in fresh ones."""
import gc
import multiprocessing
import os
import pickle

import numpy as np
import pytest

import cx
from cx import recipe

SRC = """\
typedef struct { int x; double y; } pair;
typedef struct { int *p; } holder;
int counter = 10;
int add(int a, int b) { return a + b; }
int bump(void) { return ++counter; }
pair make(int x) { pair p = {x, x / 2.0}; return p; }
double total(const double *a, long n) { double s = 0; for (long i = 0; i < n; i++) s += a[i]; return s; }
"""


@pytest.fixture
def lib():
    m = cx.compile(SRC)
    yield m
    m.close()


@pytest.fixture(scope="module")
def spawn():
    """One spawned worker process (a fresh interpreter: nothing compiled there yet)."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        yield pool


def test_same_process_round_trip_gives_back_the_same_objects(lib):
    assert pickle.loads(pickle.dumps(lib)) is lib
    assert pickle.loads(pickle.dumps(lib.add)) is lib.add
    assert pickle.loads(pickle.dumps(lib.pair)) is lib.pair
    value = pickle.loads(pickle.dumps(lib.make(3)))
    assert type(value) is lib.pair and (value.x, value.y) == (3, 1.5)


def test_a_function_whose_module_is_gone_is_rebuilt_once(tmp_path):
    data = pickle.dumps(cx.compile("int twice_r1(int a) { return 2 * a; }").twice_r1)
    gc.collect()
    recipe.clear_cache()
    fns = [pickle.loads(data) for _ in range(1000)]
    assert fns[0](21) == 42
    assert all(f is fns[0] for f in fns)
    assert recipe.cache_info() == {"builds": 1, "hits": 999, "modules": 1}


def test_recipe_holds_the_compile_arguments(lib):
    m = cx.compile("int n(void) { return N; }", defines={"N": 4}, options="-O2", name="four")
    r = recipe.of(m.n)
    options = r.options()  # every option of cx.compile, as the record normalises it
    assert (options["defines"], options["options"], options["name"], options["backend"]) == \
        ({"N": "4"}, ("-O2",), "four", "tcc")
    assert r is recipe.of(m)
    # a struct is one class in every module that defines it the same way: its recipe is one of those
    # modules', and what it rebuilds is the same class
    assert recipe.of(lib.pair) is recipe.of(lib.make(1))
    assert type(pickle.loads(pickle.dumps(lib.make(1)))) is lib.pair


def test_key_changes_with_source_and_options():
    a = recipe.of(cx.compile("int n(void) { return N; }", defines={"N": 1}))
    b = recipe.of(cx.compile("int n(void) { return N; }", defines={"N": 2}))
    c = recipe.of(cx.compile("int n(void) { return N; }", defines={"N": 1}))
    assert a.key != b.key and a.key == c.key
    assert pickle.loads(pickle.dumps(a)).key == a.key


def test_function_struct_and_module_rebuild_in_a_fresh_process(lib, spawn):
    assert spawn.apply(lib.add, (2, 3)) == 5
    assert spawn.apply(_call, (lib, "add", 4, 5)) == 9
    value = spawn.apply(lib.make, (7,))
    assert type(value) is lib.pair and (value.x, value.y) == (7, 3.5)
    assert spawn.apply(lib.total, (np.arange(5.0), 5)) == 10.0


def _call(module, name, *args):
    return module[name](*args)


def test_globals_start_fresh_in_the_other_process(lib, spawn):
    lib.counter = 100
    assert lib.bump() == 101
    assert spawn.apply(_call, (cx.compile(SRC + "\n/* fresh */"), "bump")) == 11


def test_linked_module_ships_with_what_it_links(spawn):
    base = cx.compile("long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }")
    user = cx.compile("long fib(int n);\nlong fib_plus(int n, long k) { return fib(n) + k; }", link=[base])
    assert recipe.of(user).links == (recipe.of(base),)
    assert spawn.apply(user.fib_plus, (10, 1)) == 56


def test_cells_of_the_magic_pickle_with_what_they_link(spawn):
    pytest.importorskip("IPython")
    from cx.magics.session import Session

    session = Session()
    session.run("int base_m(int x) { return x * 3; }", {})
    cell = session.run("int base_m(int x);\nint top_m(int x) { return base_m(x) + 1; }", {}).module
    assert spawn.apply(cell.top_m, (4,)) == 13


def test_load_ships_the_text_and_finds_headers_by_path(tmp_path, spawn):
    (tmp_path / "k.h").write_text("#define K 5\n")
    (tmp_path / "k.c").write_text('#include "k.h"\nint k(void) { return K; }\n')
    lib = cx.load(tmp_path / "k.c")
    assert recipe.of(lib).file == str(tmp_path / "k.c")
    (tmp_path / "k.c").write_text("int k(void) { return -1; }\n")  # the recipe has the text read
    assert spawn.apply(lib.k) == 5
    other = cx.load(tmp_path / "k.c")
    os.remove(tmp_path / "k.h")
    assert spawn.apply(other.k) == -1


def test_rebuild_error_names_the_file(tmp_path, spawn):
    (tmp_path / "gone.h").write_text("#define G 1\n")
    (tmp_path / "g.c").write_text('#include "gone.h"\nint g(void) { return G; }\n')
    lib = cx.load(tmp_path / "g.c")
    os.remove(tmp_path / "gone.h")
    with pytest.raises(cx.CompileError) as info:  # raised by the call, so Pool reports it (no hang)
        spawn.apply_async(lib.g).get(timeout=60)
    assert "(rebuilding a pickled cx module in this process)" in str(info.value)
    assert f"{tmp_path / 'g.c'}:1: error: include file 'gone.h' not found" in str(info.value)


def test_cc_backend_module_reuses_the_disk_cache(tmp_path, monkeypatch, spawn):
    from cx.build.backends import cc

    try:
        cc.find_compiler()
    except cx.CxError:
        pytest.skip("no system C compiler")
    monkeypatch.setenv("CX_CACHE_DIR", str(tmp_path / "cache"))
    lib = cx.compile("int cube(int x) { return x * x * x; }", backend="cc", options="-O2")
    objects = sorted(p.name for p in (tmp_path / "cache").rglob("*.so"))
    with multiprocessing.get_context("spawn").Pool(1) as pool:  # inherits CX_CACHE_DIR
        assert pool.apply(lib.cube, (3,)) == 27
    assert sorted(p.name for p in (tmp_path / "cache").rglob("*.so")) == objects


# ---- what cannot be shipped -----------------------------------------------------------------

def test_closed_module_and_its_functions_refuse_to_pickle():
    lib = cx.compile("int one(void) { return 1; }", name="shut")
    one = lib.one
    lib.close()
    with pytest.raises(cx.PicklingError, match="^cannot pickle module 'shut': it is closed$"):
        pickle.dumps(lib)
    with pytest.raises(cx.PicklingError, match=r"^cannot pickle one\(\): its module is closed$"):
        pickle.dumps(one)


PYAPI = """\
#include <Python.h>
PyObject *first(PyObject *seq) { PyObject *o = PySequence_GetItem(seq, 0); return o; }
int plain(int x) { return x; }
"""


def test_python_c_api_code_refuses_to_pickle():
    lib = cx.compile(PYAPI, hold_gil=["first"], name="pyapi")
    assert lib.first([7, 8]) == 7
    with pytest.raises(cx.PicklingError, match=r"^cannot pickle module 'pyapi': its code uses Python's C API "
                                               r"\(hold_gil=\['first'\], PyObject \*\).*call cx.compile inside"):
        pickle.dumps(lib)
    with pytest.raises(cx.PicklingError, match=r"^cannot pickle first\(\): its code uses Python's C API"):
        pickle.dumps(lib.first)
    user = cx.compile("int plain(int x);\nint twice_p(int x) { return 2 * plain(x); }", link=[lib])
    with pytest.raises(cx.PicklingError, match=r"through the module it links to"):
        pickle.dumps(user.twice_p)
    assert isinstance(cx.PicklingError("x"), pickle.PicklingError)


def test_struct_value_with_pointers_refuses_to_pickle(lib):
    with pytest.raises(cx.PicklingError, match="^cannot pickle a holder value: it holds pointers"):
        pickle.dumps(lib.holder())
    assert pickle.loads(pickle.dumps(lib.holder)) is lib.holder  # the type itself is fine


def test_other_ctypes_structures_still_pickle_by_reference():
    import ctypes

    assert pickle.loads(pickle.dumps(ctypes.Structure)) is ctypes.Structure
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(type("Local", (ctypes.Structure,), {"_fields_": [("a", ctypes.c_int)]}))


def test_cloudpickle_ships_closures_over_modules_and_functions(lib, spawn):
    cloudpickle = pytest.importorskip("cloudpickle")

    def kernel(a):
        return lib.total(a, len(a)) + lib.add(1, 2)

    data = cloudpickle.dumps(kernel)
    assert spawn.apply(_loads_and_call, (data, np.ones(4))) == 7.0
    value = cloudpickle.loads(cloudpickle.dumps(lib.make(2)))
    assert type(value) is lib.pair and value.x == 2


def test_cloudpickle_of_a_bare_struct_class_says_what_to_do(lib):
    cloudpickle = pytest.importorskip("cloudpickle")
    pair = lib.pair

    def make():
        return pair(1, 2.0)

    with pytest.raises(cx.PicklingError, match=r"^cannot pickle the cx struct type .*pair.* by value .*"
                                               r"refer to it through its module instead \(lib.Point"):
        cloudpickle.dumps(make)


def _loads_and_call(data, *args):
    return pickle.loads(data)(*args)
