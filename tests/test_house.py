"""The house rules the code can check itself: cx's Python modules sit in layers, every import points
down, and nothing imports in a circle, counting the imports inside functions (libjit's C files are
checked the same way by ``make -C libjit check-layers``)."""
import ast
import collections
import pathlib
import subprocess
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = {"cx": ROOT / "python" / "cx", "cx.magics": ROOT / "magics"}  # as setup.cfg maps them

#: cx's layers, bottom first: a module imports only from its own layer or those before it, and
#: within a layer without a circle. ``cx`` is the package's top: it re-exports the public API and
#: is what ``%load_ext cx`` loads, so it sits above the magics; the benchmarks stand outside.
LAYERS = (
    ("cx._version", "cx.errors"),
    ("cx.cread",),
    ("cx.build",),
    ("cx.runtime",),
    ("cx.bind",),
    ("cx.module",),
    ("cx.files", "cx.recipe"),
    ("cx.tools",),
    ("cx.magics",),
    ("cx",),
    ("cx.bench",),
)

#: Imports inside functions, each with its reason: only for an optional dependency or for cost,
#: never to dodge a circle.
LAZY = {
    ("cx", "cx.magics"): "IPython is optional: the magics load only when IPython asks (%load_ext cx)",
}


def _modules(packages):
    """Every module: name -> path."""
    out = {}
    for package, directory in packages.items():
        for path in directory.rglob("*.py"):
            parts = path.relative_to(directory).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            if package == "cx" and parts[:1] == ("magics",):
                continue
            out[".".join((package, *parts))] = path
    return out


def _is_extension(name, packages):
    """cx._speedups, cx.cread._cscan: C extension modules (a .c source of that name), which import
    no cx module."""
    root, *parts = name.split(".")
    return bool(parts) and (packages[root].joinpath(*parts[:-1]) / (parts[-1] + ".c")).exists()


def import_graph(packages=None):
    """module -> {imported module: "top" or "function"}: every import of a cx module, at module
    level or inside a function (which runs later, but ties the modules together all the same)."""
    packages = packages or PACKAGES
    modules = _modules(packages)
    graph = collections.defaultdict(dict)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text())
        top = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            where = "top" if id(node) in top else "function"
            found = set()
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[:len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                for alias in node.names:
                    sub = f"{source}.{alias.name}"
                    if sub in modules:
                        found.add(sub)  # from . import binding
                    elif source in modules and not _is_extension(sub, packages):
                        found.add(source)  # from .errors import CxError
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name in modules)
            for imported in found - {name}:
                if graph[name].get(imported) != "top":
                    graph[name][imported] = where
    return graph


def cycles(graph):
    """Every cycle a depth-first walk meets, each as a list of module names."""
    state, stack, found = {}, [], []

    def walk(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            walk(node)
    return found


def layer(name):
    """The index of ``name``'s layer in :data:`LAYERS` (the longest prefix that names it)."""
    best = None
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and (best is None or len(prefix) > best[1]):
                best = (index, len(prefix))
    assert best is not None, f"{name} is in no layer of tests/test_house.py: add it to LAYERS"
    return best[0]


def upward(graph):
    """Every import from a lower layer to a higher one: (importer, imported)."""
    return sorted((a, b) for a, edges in graph.items() for b in edges if layer(b) > layer(a))


def test_the_python_modules_import_each_other_without_a_circle():
    graph = import_graph()
    assert set(graph["cx.module"]) >= {"cx.bind", "cx.build.steps", "cx.runtime.guard"}  # the graph is real
    assert set(graph["cx.magics"]) >= {"cx.magics.session", "cx.runtime.capture", "cx.runtime.guard"}
    assert cycles(graph) == []


def test_every_import_points_down_the_layers():
    assert upward(import_graph()) == []


def test_imports_inside_functions_are_only_for_optional_dependencies():
    graph = import_graph()
    lazy = {(a, b) for a, edges in graph.items() for b, where in edges.items() if where == "function"}
    assert lazy == set(LAZY)


def test_the_checks_see_a_circle_through_an_import_inside_a_function(tmp_path):
    # a package whose circle closes only inside a function: what the first version of this file missed
    pkg = tmp_path / "cx"
    (pkg / "build").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "errors.py").write_text("")
    (pkg / "module.py").write_text("from .build import unit\n")
    (pkg / "build" / "__init__.py").write_text("")
    (pkg / "build" / "unit.py").write_text(textwrap.dedent("""\
        def later():
            from ..module import compile
            return compile
        """))
    graph = import_graph({"cx": pkg})
    assert graph["cx.build.unit"] == {"cx.module": "function"}
    assert cycles(graph) == [["cx.build.unit", "cx.module", "cx.build.unit"]]
    assert upward(graph) == [("cx.build.unit", "cx.module")]


def test_a_circle_is_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_runtime_imports_neither_the_magics_nor_the_benchmarks():
    graph = import_graph()
    reached, todo = set(), ["cx"]
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo.extend(b for b, where in graph.get(name, {}).items() if where == "top")
    assert not {n for n in reached if n.startswith(("cx.magics", "cx.bench"))}
    code = "import sys, cx; print(sorted(m for m in sys.modules if m.startswith(('cx.magics', 'cx.bench', 'IPython'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cx_compiles_no_c_of_its_own_at_run_time():
    # the SIGINT handler, the capture writer and the timing loop are built with the package
    # (cx._speedups): the first compile of a process compiles the user's source and nothing else
    code = textwrap.dedent("""\
        import cx
        from cx.build.backends import tcc
        from cx.runtime import capture
        built = []
        real, real_start = tcc.build, tcc.build_start
        tcc.build = lambda text, settings: built.append(settings.user_source) or real(text, settings)
        tcc.build_start = lambda text, settings: built.append(settings.user_source) or real_start(text, settings)
        lib = cx.compile("int add(int a, int b) { return a + b; }")
        with capture.captured():
            cx.timeit(lib.add, 1, 2, repeat=1, number=10, python=False)
        cx.runtime.guard._name_interrupts()
        print(len(built), built[0] == "int add(int a, int b) { return a + b; }")
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "True"]
