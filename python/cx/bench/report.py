"""The report of ``python -m cx.bench``: the targets of issue 6, a text table and a PNG plot.

Reads the results dict that :func:`cx.bench.suite.run` returns (the contents of ``bench.json``); measures
nothing itself. Only :func:`plot` imports matplotlib (Agg backend), and only when called.
"""
from __future__ import annotations

import importlib.util

__all__ = ["targets", "format_table", "plot"]


def _median(rows, name):
    return next(r for r in rows if r["name"] == name)["median_s"]


def targets(res):
    """Issue 6's and issue 14's targets, each ``{"target", "value", "limit", "op", "pass"}``, from one
    run's ratios (a target against a peer that is not installed is left out)."""
    small = res["compile_small"]
    gcc_row = next(r for r in small if r["name"].endswith("-O2 -shared (subprocess)"))
    cx_t = _median(small, "cx.compile (TinyCC)")
    out = [
        ("cx.compile of the small cell <= 1.5x libtcc alone",
         cx_t / _median(small, "libtcc alone (floor)"), 1.5, "<="),
        ("cx.compile of the small cell >= 10x faster than the system compiler",
         gcc_row["median_s"] / cx_t, 10, ">="),
        ("scalar call <= 1.15x raw ctypes", _median(res["calls"]["scalar"], "cx")
         / _median(res["calls"]["scalar"], "raw ctypes CFUNCTYPE (same address)"), 1.15, "<="),
        ("two-array call <= 3x a scalar call", res["calls"]["arrays"][0]["vs_cx_scalar"], 3, "<="),
    ]
    for label, rows in res.get("compile_large_sources", {}).items():
        out.append((f"cx.compile of the {label} <= 3x libtcc alone",
                    _median(rows, "cx.compile (TinyCC)") / _median(rows, "libtcc alone (floor)"), 3, "<="))
    for header, rows in res.get("compile_installed_headers", {}).items():  # issue 23
        out.append((f"cx.include of {header} <= 3x libtcc alone",
                    _median(rows, "cx.include") / _median(rows, "libtcc alone (floor)"), 3, "<="))
    headers = res.get("compile_headers")
    if headers:  # issue 21
        known, first = headers["a cell with known headers"], headers["the first cell of a process"]
        cached = _median(known, "cx.compile, headers known (prefix cache)")
        out += [("a cell with known headers <= 0.3x libtcc alone", cached / _median(known, "libtcc alone (floor)"),
                 0.3, "<="),
                ("a cell with known headers >= 20x faster than the system compiler", known[-1]["median_s"] / cached,
                 20, ">="),
                ("the first cell of a process <= 1.6x libtcc alone", _median(first, "cx.compile, first cell of the process")
                 / _median(first, "libtcc alone (floor)"), 1.6, "<=")]
    calls = res["calls"]
    cx_call = _median(calls["scalar"], "cx")
    for peer in ("cffi API mode", "numba njit"):  # issue 14: faster than the peers, guarded, GIL released
        peer_t = _median(calls["scalar"], peer)
        if peer_t:
            out.append((f"scalar call <= 0.8x {peer}", cx_call / peer_t, 0.8, "<="))
    mixed = calls.get("mixed")
    if mixed and _median(mixed, "cffi API mode"):
        out.append(("mixed 4-argument call <= 0.9x cffi API mode",
                    _median(mixed, "cx: scale(1.5, 2.0, 3, 4)") / _median(mixed, "cffi API mode"), 0.9, "<="))
    out.append(("two-array call <= 1.5x a scalar call", calls["arrays"][0]["vs_cx_scalar"], 1.5, "<="))
    if any(r["name"] == "cx, hold_gil" for r in calls["scalar"]):
        out.append(("hold_gil call <= 1x a default call", _median(calls["scalar"], "cx, hold_gil") / cx_call,
                    1.0, "<="))
    for kernel, rows in res["kernels"].items():
        ratio = _median(rows, "cx backend='cc'") / rows[-1]["median_s"]
        out.append((f"backend='cc' {kernel} within 1.1x of -O2", ratio, 1.1, "<="))
    rt = res.get("runtime")
    if rt:  # issue 22: timings that were assertions in the test suite
        out += [("5 MB printed in one C call reach a Python stream in <= 2 s", rt["five_mb_one_call_s"], 2, "<="),
                ("4 threads in a 300 ms C nap take <= 0.9 s (GIL released)", rt["four_naps_of_300ms_in_threads_s"],
                 0.9, "<="),
                ("an interrupt stops a spinning C call in <= 3 s", rt["interrupt_latency_s"], 3, "<="),
                ("cx.timeit within 2x of the loop timed in C", max(rt["timeit_vs_c_timed"],
                                                                   1 / rt["timeit_vs_c_timed"]), 2, "<="),
                ("the call from Python costs more than cx.timeit's C loop", rt["python_call_vs_c_loop"], 1, ">=")]
    return [{"target": t, "value": v, "limit": lim, "op": op,
             "pass": v <= lim if op == "<=" else v >= lim} for t, v, lim, op in out]


def _fmt_time(s):
    if s is None:
        return "-"
    for unit_, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if s >= scale or unit_ == "ns":
            return f"{s / scale:.3g} {unit_}"


def format_table(res):
    """The results as a text table: a block per section, then PASS/MISS per target."""
    lines = []
    m = res["meta"]
    lines.append(f"cx {m['cx']} benchmark ({m['mode']}): {m['cpus']} CPUs ({m['cpu']}), Python {m['python']}, "
                 f"{m['compiler']}")

    def block(title, rows, ref_label, extra=None):
        lines.append("")
        lines.append(f"== {title}")
        lines.append(f"  {'':52} {'median':>10}  {ref_label:>12}" + (f"  {extra[0]:>10}" if extra else ""))
        for r in rows:
            if r["status"] != "ok":
                lines.append(f"  {r['name']:52} {r['status']}")
                continue
            ratio = f"{r['ratio']:.2f}x"
            tail = f"  {extra[1](r):>10}" if extra else ""
            approx = "~" if r.get("extrapolated") else ""
            lines.append(f"  {r['name']:52} {approx + _fmt_time(r['median_s']):>10}  {ratio:>12}{tail}")

    block(f"compile: small cell ({res['sizes']['small_functions']} functions, stdio.h + math.h)",
          res["compile_small"], "vs libtcc")
    block(f"compile: large source ({res['sizes']['large_functions']} functions)", res["compile_large"], "vs libtcc")
    for label, rows in res.get("compile_large_sources", {}).items():
        block(f"compile: {label}, cx against libtcc alone", rows, "vs libtcc")
    for header, rows in res.get("compile_installed_headers", {}).items():
        block(f"compile: cx.include of the installed {header}, cx against libtcc alone", rows, "vs libtcc")
    for label, rows in res.get("compile_headers", {}).items():
        block(f"compile: {label} (stdio.h, math.h, stdlib.h)", rows, "vs libtcc")
    lines.append("")
    lines.append("== where cx.compile's time goes (medians, small cell | large source)")
    ps, pl = res["compile_profile"]["small"], res["compile_profile"]["large"]
    for k in ps:
        lines.append(f"  {k:52} {_fmt_time(ps[k]):>10}  {_fmt_time(pl[k]):>12}")
    block("call: int add(int, int)", res["calls"]["scalar"], "vs ctypes")
    if res["calls"].get("mixed"):
        block("call: double scale(double, float, long, unsigned char)", res["calls"]["mixed"], "vs ctypes")
    block("call: double dot(const double *, const double *, long), two numpy arrays", res["calls"]["arrays"],
          "vs cx", ("vs scalar", lambda r: f"{r['vs_cx_scalar']:.2f}x"))
    for kernel, rows in res["kernels"].items():
        block(f"kernel: {kernel}", rows, "vs -O2")
    lines.append("")
    lines.append(f"== threads: one CPU-bound cx call split over k threads ({res['threads']['cpus']} CPUs)")
    for r, p in zip(res["threads"]["rows"], res["threads"]["process_rows"]):
        lines.append(f"  {r['threads']} thread(s) of cx{'':36} {_fmt_time(r['median_s']):>10}  speedup "
                     f"{r['speedup']:.2f}x  efficiency {r['efficiency']:4.0%}   (machine, {p['threads']} processes: "
                     f"{p['speedup']:.2f}x, {p['efficiency']:.0%})")
    rt = res.get("runtime")
    if rt:
        lines.append("")
        lines.append("== runtime: C output, the GIL, an interrupt, cx.timeit (medians)")
        for key, label in (("five_mb_one_call_s", "5 MB in one call into a Python stream"),
                           ("lines_100k_s", "100,000 printf lines into a Python stream"),
                           ("lines_100k_limited_s", "the same with the notebook's rate limit (rest to a file)"),
                           ("four_naps_of_300ms_in_threads_s", "4 threads, each in a 300 ms C nap"),
                           ("interrupt_latency_s", "SIGINT to KeyboardInterrupt, spinning C call")):
            lines.append(f"  {label:52} {_fmt_time(rt[key]):>10}")
        lines.append(f"  {'cx.timeit / the same loop timed in C':52} {rt['timeit_vs_c_timed']:>9.2f}x")
        lines.append(f"  {'call from Python / cx.timeit C loop':52} {rt['python_call_vs_c_loop']:>9.2f}x")
    lines.append("")
    lines.append("== targets")
    for t in res["targets"]:
        lines.append(f"  {'PASS' if t['pass'] else 'MISS'}  {t['target']:70} {t['value']:.2f}x "
                     f"(limit {t['op']} {t['limit']}x)")
    return "\n".join(lines)


def plot(res, path):
    """Write the results as a PNG (2 x 3 panels). Returns False if matplotlib is missing."""
    if importlib.util.find_spec("matplotlib") is None:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(18, 10))
    m = res["meta"]
    fig.suptitle(f"cx {m['cx']} ({m['mode']} run): {m['cpus']} CPUs {m['cpu']}, Python {m['python']}, "
                 f"{m['compiler']}", fontsize=11)

    def bars(ax, rows, title, xlabel, scale):
        rows = [r for r in rows if r["status"] == "ok"][::-1]
        names = [("~" if r.get("extrapolated") else "") + r["name"] for r in rows]
        values = [r["median_s"] * scale for r in rows]
        colors = ["tab:orange" if r["name"].startswith("cx") else "tab:blue" for r in rows]
        ax.barh(names, values, color=colors)
        ax.set_xscale("log")
        ax.set_xlim(min(values) / 2, max(values) * 8)
        for y, v in enumerate(values):
            ax.text(v * 1.1, y, ("~" if rows[y].get("extrapolated") else "") + _fmt_time(rows[y]["median_s"]),
                    va="center", fontsize=7)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.tick_params(axis="y", labelsize=8)

    bars(axes[0][0], res["compile_small"], "compile: small cell (4 functions)", "ms (log)", 1e3)
    bars(axes[0][1], res["compile_large"], f"compile: {res['sizes']['large_functions']} functions",
         "ms (log)", 1e3)
    ax = axes[0][2]
    labels = ["small cell", f"{res['sizes']['large_functions']} functions"]
    for j, size in enumerate(("small", "large")):
        prof = res["compile_profile"][size]
        total = prof["total"]
        left = 0.0
        for k in [k for k in prof if k not in ("total", "libtcc alone")]:
            ax.barh([f"cx.compile\n{labels[j]}"], [prof[k] / total * 100], left=[left], label=k if j == 0 else None,
                    color={"parse declarations": "tab:red", "backend (libjit + TinyCC)": "tab:green"}.get(k))
            left += prof[k] / total * 100
        ax.text(101, j, f"{_fmt_time(total)}\n(libtcc alone:\n{_fmt_time(prof['libtcc alone'])})", va="center",
                fontsize=8)
    ax.set_xlim(0, 150)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    ax.set_title("where cx.compile's time goes", fontsize=10)
    ax.set_xlabel("% of cx.compile")
    bars(axes[1][0], res["calls"]["scalar"] + res["calls"]["arrays"], "per call", "ns (log)", 1e9)
    ax = axes[1][1]
    kernels = list(res["kernels"])
    variants = [r["name"] for r in res["kernels"][kernels[0]]]
    width = 0.8 / len(variants)
    for j, name in enumerate(variants):
        ax.bar([i + j * width for i in range(len(kernels))],
               [next(r for r in res["kernels"][k] if r["name"] == name)["ratio"] for k in kernels],
               width, label=name)
    ax.set_xticks([i + width for i in range(len(kernels))])
    ax.set_xticklabels([k.replace(" (", "\n(") for k in kernels], fontsize=8)
    ax.axhline(1.1, color="k", ls=":", lw=1)
    ax.set_ylim(0, max(r["ratio"] for rows in res["kernels"].values() for r in rows) * 1.35)
    ax.set_ylabel("run time / system compiler -O2")
    ax.set_title("kernels (lower is faster)", fontsize=10)
    ax.legend(fontsize=8, loc="upper center", ncol=3)
    ax = axes[1][2]
    t = res["threads"]["rows"]
    ax.plot([r["threads"] for r in t], [r["speedup"] for r in t], "o-", label="cx call in k threads")
    pr = res["threads"]["process_rows"]
    ax.plot([r["threads"] for r in pr], [r["speedup"] for r in pr], "s--", label="same C loop in k processes")
    ax.plot([r["threads"] for r in t], [min(r["threads"], res["threads"]["cpus"]) for r in t], "k:", label="ideal")
    ax.set_xticks([1, 2, 4])
    ax.set_xlabel("threads")
    ax.set_ylabel("speedup")
    ax.set_title("threads: one CPU-bound cx call split", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return True
