"""Check that libjit's files call each other only downwards (``make check-layers``).

libjit is built in layers, listed below from the bottom up. Each layer has one private header
(the top one has the public ``jit.h``); a file may include its own layer's header and those of the
layers below it, and call or reference what files of its own layer or lower layers define -- never
a file above, and never round a loop, even inside one layer.

Two checks, both from the files themselves:

- includes: every ``#include "..."`` of every ``.c`` and private ``.h`` of libjit against the order
  below (``libtcc.h`` only in tcc.c);
- symbols: ``nm`` reads each object's defined and undefined global symbols; a file that uses a
  symbol another file defines calls (or reads) that file. Every such edge must point to the same
  or a lower layer, and the graph must have no cycle. A failure names the files, the layers and
  the symbols.

Usage: ``python3 check_layers.py [--nm NM] OBJECT.o...`` (objects named after their sources).
Exits 1 with the reasons on stderr when a rule is broken.
"""
import argparse
import os
import re
import subprocess
import sys

#: (layer, its header, its files without ".c"), from the bottom up.
LAYERS = [
    ("base", "base.h", ["buffers", "options", "paths"]),
    ("tcc", "tcc.h", ["tcc"]),
    ("errors", "errors.h", ["errors"]),
    ("where", "where.h", ["where"]),
    ("frames", "frames.h", ["frames"]),
    ("interrupt", "interrupt.h", ["interrupt"]),
    ("guard", "guard.h", ["guard"]),
    ("runtime", "runtime.h", ["tls", "runtime"]),
    ("compile", "compile.h", ["compile"]),
    ("api", "jit.h", ["jit", "code", "abi"]),
]
PUBLIC_HEADER = "jit.h"
NOT_LIBJIT = {"test_jit.c"}  # the test program links to libjit like any other user
TCC_HEADER, TCC_FILE = "libtcc.h", "tcc.c"

HERE = os.path.dirname(os.path.abspath(__file__))
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


def _levels():
    file_level, header_level = {}, {}
    for level, (_name, header, files) in enumerate(LAYERS):
        header_level[header] = level
        for stem in files:
            file_level[stem + ".c"] = level
    return file_level, header_level


def check_includes(directory=HERE):
    """Problems with the #include lines of libjit's sources, as sentences."""
    file_level, header_level = _levels()
    problems = []
    on_disk = sorted(f for f in os.listdir(directory) if f.endswith((".c", ".h")) and f not in NOT_LIBJIT)
    for name in on_disk:
        if name.endswith(".c") and name not in file_level:
            problems.append(f"{name} is in no layer: add it to LAYERS in check_layers.py")
        if name.endswith(".h") and name not in header_level:
            problems.append(f"{name} is the header of no layer: add it to LAYERS in check_layers.py")
    for name in on_disk:
        level = file_level.get(name, header_level.get(name))
        if level is None:
            continue
        with open(os.path.join(directory, name)) as f:
            text = f.read()
        for included in INCLUDE.findall(text):
            if included == TCC_HEADER:
                if name != TCC_FILE:
                    problems.append(f"{name} includes {TCC_HEADER}: only {TCC_FILE} may")
                continue
            if included == PUBLIC_HEADER:
                continue
            if included not in header_level:
                problems.append(f"{name} includes {included}, which is no layer's header")
                continue
            there = header_level[included]
            # a .c may include its own layer's header; a header only lower ones
            allowed = there <= level if name.endswith(".c") else there < level
            if not allowed:
                problems.append(f"{name} (layer {LAYERS[level][0]}) includes {included} of layer "
                                f"{LAYERS[there][0]}, which is not below it")
    return problems


def read_symbols(objects, nm="nm"):
    """{source file: (defined global symbols, undefined symbols)} of the given objects."""
    table = {}
    for path in objects:
        source = os.path.splitext(os.path.basename(path))[0] + ".c"
        out = subprocess.run([nm, "-P", path], capture_output=True, text=True, check=True).stdout
        defined, undefined = set(), set()
        for line in out.splitlines():
            fields = line.split()
            if len(fields) < 2:
                continue
            symbol, kind = fields[0], fields[1]
            if kind == "U":
                undefined.add(symbol)
            elif kind.isupper() or kind == "u":  # global: T, D, B, R, V, W, u (unique)
                defined.add(symbol)
        table[source] = (defined, undefined)
    return table


def call_graph(table):
    """{file: {file it uses: sorted symbols}} from :func:`read_symbols`'s table."""
    owner = {}
    for source, (defined, _) in table.items():
        for symbol in defined:
            owner[symbol] = source
    graph = {source: {} for source in table}
    for source, (_, undefined) in table.items():
        for symbol in sorted(undefined):
            target = owner.get(symbol)
            if target is not None and target != source:
                graph[source].setdefault(target, []).append(symbol)
    return graph


def find_cycle(graph):
    """One cycle of the graph as a list of files (first == last), or None."""
    state = {}  # file -> 1 on the path, 2 done
    path = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def check_calls(graph):
    """Problems with the call graph (an upward call, a cycle), as sentences."""
    file_level, _ = _levels()
    problems = []
    for source in sorted(graph):
        if source not in file_level:
            problems.append(f"{source} is in no layer: add it to LAYERS in check_layers.py")
            continue
        for target, symbols in sorted(graph[source].items()):
            if target in file_level and file_level[target] > file_level[source]:
                problems.append(
                    f"{source} (layer {LAYERS[file_level[source]][0]}) calls up into {target} "
                    f"(layer {LAYERS[file_level[target]][0]}): {', '.join(symbols)}")
    cycle = find_cycle(graph)
    if cycle:
        steps = [f"{a} uses {', '.join(graph[a][b])} of {b}" for a, b in zip(cycle, cycle[1:])]
        problems.append("cycle: " + " -> ".join(cycle) + " (" + "; ".join(steps) + ")")
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nm", default=os.environ.get("NM", "nm"))
    parser.add_argument("objects", nargs="+")
    args = parser.parse_args(argv)
    graph = call_graph(read_symbols(args.objects, args.nm))
    problems = check_includes() + check_calls(graph)
    if problems:
        print("libjit's layers are broken:", file=sys.stderr)
        for problem in problems:
            print("  " + problem, file=sys.stderr)
        return 1
    edges = sum(len(targets) for targets in graph.values())
    print(f"check-layers: {len(graph)} files in {len(LAYERS)} layers, {edges} file-to-file "
          "uses, all pointing down, no cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
