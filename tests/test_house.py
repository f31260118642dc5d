"""The house rules the code can check itself: cx's Python modules import each other without a
circle (libjit's C files are checked the same way by ``make -C libjit check-layers``)."""
import ast
import collections
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = {"cx": ROOT / "python" / "cx", "cx.magics": ROOT / "magics"}  # as setup.cfg maps them


def _modules():
    """Every cx module: name -> path."""
    out = {}
    for package, directory in PACKAGES.items():
        for path in directory.rglob("*.py"):
            parts = path.relative_to(directory).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            out[".".join((package, *parts))] = path
    return out


def _is_extension(name):
    """cx._speedups, cx._cscan: C extension modules, which import no cx module."""
    return (PACKAGES["cx"] / (name.rsplit(".", 1)[1] + ".c")).exists() and name.count(".") == 1


def import_graph():
    """module -> the cx modules it imports when it is imported (module-level statements only:
    an import inside a function runs later, when the modules are all loaded)."""
    modules = _modules()
    graph = collections.defaultdict(set)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[:len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                for alias in node.names:
                    sub = f"{source}.{alias.name}"
                    if sub in modules:
                        graph[name].add(sub)  # from . import binding
                    elif source in modules and not _is_extension(sub):
                        graph[name].add(source)  # from .errors import CxError
            elif isinstance(node, ast.Import):
                graph[name].update(a.name for a in node.names if a.name in modules)
        graph[name].discard(name)
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


def test_the_python_modules_import_each_other_without_a_circle():
    graph = import_graph()
    assert graph["cx.module"] >= {"cx.binding", "cx.decls", "cx.backends"}  # the graph is real
    assert graph["cx.magics"] >= {"cx", "cx.capture", "cx.guard"}
    assert cycles(graph) == []


def test_a_circle_is_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_runtime_imports_neither_the_magics_nor_the_benchmarks_at_import():
    graph = import_graph()
    reached, todo = set(), ["cx"]
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo.extend(graph.get(name, ()))
    assert not {n for n in reached if n.startswith(("cx.magics", "cx.bench"))}
