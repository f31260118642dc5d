"""The cx-highlight extension in a real browser: JupyterLab 4 and Notebook 7 in headless Chromium.

Debian's ``chromium`` driven by Playwright (the ``browser`` extra; ``.ci/run`` installs both). A
JupyterLab server on a free port serves a notebook with a ``%%cx`` cell and a Python cell; the
test reads the editor's language (CodeMirror's ``data-language``) and the highlighting classes of
tokens, edits the first line away from ``%%cx`` and back, and saves a screenshot of the highlighted
cell. Everything has a timeout; the server and browser are stopped whatever happens. Skipped when
Playwright or chromium is missing, except in CI, where that fails.
"""
import importlib.util
import json
import platform
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

kernelspec = pytest.importorskip("ipykernel.kernelspec")
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # the browser extra is not installed
    sync_playwright = None

if sync_playwright is None or CHROMIUM is None or importlib.util.find_spec("jupyterlab") is None \
        or importlib.util.find_spec("notebook") is None:
    if os.environ.get("CI"):
        pytest.fail("the browser test needs Debian's chromium and the 'browser' extra (see .ci/run)",
                    pytrace=False)
    pytest.skip("needs chromium (apt-get install chromium) and the 'browser' extra", allow_module_level=True)

WAIT_MS = 60_000  # generous: two cores shared with other work
C_CELL = """%%cx
#include <stdio.h>
/* say hello from C */
const double half = 0.5;
void hello(const char *who) { printf("hello, %s\\n", who); }"""
PY_CELL = """# plain Python
def twice(x):
    return 2 * x  # a comment"""
# CX_HIGHLIGHT_SCREENSHOT=docs/highlight.png: also save the picture the README shows
SCREENSHOT = Path(os.environ["CX_HIGHLIGHT_SCREENSHOT"]) if os.environ.get("CX_HIGHLIGHT_SCREENSHOT") else None
# CX_OUTPUT_SCREENSHOTS=docs: also save docs/asm.png and docs/layout.png (JupyterLab, light theme)
OUTPUT_SCREENSHOTS = Path(os.environ["CX_OUTPUT_SCREENSHOTS"]) if os.environ.get("CX_OUTPUT_SCREENSHOTS") else None

# What cx shows in a notebook: a listing, a layout, side by side, a warning, a compile error.
OUTPUT_CELLS = [
    "%load_ext cx",
    """%%cx -n tcc
struct sample { char tag; double value; int count; };
double total(const double *a, long n) {
    double s = 0;
    for (long i = 0; i < n; i++)
        s += a[i];
    return s;
}""",
    "%%cx -n gcc --cc\ndouble total(const double *a, long n) {\n    double s = 0;\n    for (long i = 0; i < n; i++)\n"
    "        s += a[i];\n    return s;\n}",
    "tcc.total.disassemble()",
    "sample",
    "from cx.tools.asm import side_by_side\nside_by_side(tcc.total, gcc.total)",
    "%%cx\nint pointer_from_int(void) {\n    char *p = 3;\n    return p != 0;\n}",
    "%%cx\ndouble area(double r) {\n    return 3.14 * r * r\n}",
]
ERROR_CELL, WARNING_CELL = len(OUTPUT_CELLS) - 1, len(OUTPUT_CELLS) - 2
ESCAPE_TIME = """int escape_time(double cr, double ci, int max_iter) {
    double zr = 0, zi = 0;
    int n = 0;
    while (n < max_iter && zr * zr + zi * zi <= 4.0) {   /* the hot loop */
        double t = zr * zr - zi * zi + cr;
        zi = 2 * zr * zi + ci;
        zr = t;
        n++;
    }
    return n;
}"""
# The README's pictures: notebook 07's side_by_side, and the README's three structs.
PICTURE_CELLS = [
    "%load_ext cx",
    "%%cx -n tcc\n" + ESCAPE_TIME,
    "%%cx --cc --options=-g -n gcc\n" + ESCAPE_TIME,
    "from cx.tools.asm import side_by_side\nside_by_side(tcc.escape_time, gcc.escape_time)",
    "%%cx\ntypedef struct { char tag; double value; short count; } Loose;\n"
    "typedef struct { double value; short count; char tag; } Tight;\n"
    "struct Wire { char kind; int length; short port; } __attribute__((packed));",
    "display(Loose, Tight, Wire)",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A JupyterLab server (also serving Notebook 7) on a free port, with a private config."""
    root = tmp_path_factory.mktemp("lab")
    notebook = {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"cell{i}", "metadata": {},
                   "outputs": [], "source": src} for i, src in enumerate((C_CELL, PY_CELL))],
        "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                    "name": "python3"},
                     "language_info": {"codemirror_mode": {"name": "ipython", "version": 3},
                                       "name": "python"}},
        "nbformat": 4, "nbformat_minor": 5}
    (root / "work").mkdir()
    (root / "work" / "cells.ipynb").write_text(json.dumps(notebook))
    news = root / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false"}))  # no "get notified of news?" toast over the cells
    outputs = dict(notebook, cells=[
        {"cell_type": "code", "execution_count": None, "id": f"out{i}", "outputs": [], "source": src,
         "metadata": {"tags": ["raises-exception"]} if i == ERROR_CELL else {}}
        for i, src in enumerate(OUTPUT_CELLS)])
    (root / "work" / "outputs.ipynb").write_text(json.dumps(outputs))
    pictures = dict(notebook, cells=[{"cell_type": "code", "execution_count": None, "id": f"pic{i}", "outputs": [],
                                      "source": src, "metadata": {}} for i, src in enumerate(PICTURE_CELLS)])
    (root / "work" / "pictures.ipynb").write_text(json.dumps(pictures))
    # the quick start as stored, but for the Python version (the kernel reports its own)
    stored = (NOTEBOOKS / "01-quick-start.ipynb").read_text()
    (root / "work" / "quick.ipynb").write_text(stored.replace(
        json.dumps(json.loads(stored)["metadata"]["language_info"]["version"]),
        json.dumps(platform.python_version())))
    kernelspec.install(prefix=str(root), kernel_name="python3")  # runs this Python (cx's)
    port, token = free_port(), "cx-browser-test"
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(root / "config"), JUPYTER_RUNTIME_DIR=str(root / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(root / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(root / "workspaces"),
               IPYTHONDIR=str(root / "ipython"), JUPYTER_PATH=str(root / "share" / "jupyter"))
    env.pop("PYTEST_CURRENT_TEST", None)
    log = open(root / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root / 'work'}", "--allow-root",
         "--ServerApp.port_retries=0", "--LabApp.news_url=None", "--LabApp.check_for_updates_class="
         "jupyterlab.NeverCheckForUpdate",
         # Notebook 7 is enabled by a config file in the prefix it was installed into, which a
         # virtual environment's server does not read: enable it here (else /notebooks/ is a 404)
         "--ServerApp.jpserver_extensions", "notebook=True"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not start:\n" + (root / "server.log").read_text()[-3000:])
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}", token, root
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(15)
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1000, "height": 640})
    p = context.new_page()
    p.set_default_timeout(WAIT_MS)
    try:
        yield p
    finally:
        context.close()


def editors(page):
    return page.locator(".jp-Notebook .jp-Cell .cm-content")


def token_class(editor, text):
    """The highlighting class of the first token whose text is ``text`` ("" if unstyled)."""
    return editor.evaluate("""(node, text) => {
        for (const span of node.querySelectorAll('span'))
            if (span.textContent === text) return span.className;
        return '';
    }""", text)


def open_notebook(page, server, path):
    url, token, _ = server
    page.goto(f"{url}/{path}?token={token}")
    page.wait_for_selector('.jp-Notebook .cm-content[data-language="cpp"]')  # the extension ran
    page.wait_for_selector('.jp-Notebook .cm-content[data-language="python"]')


@pytest.mark.parametrize("path", ["lab/tree/cells.ipynb", "notebooks/cells.ipynb"], ids=["jupyterlab", "notebook7"])
def test_cx_cell_is_c_and_python_cell_is_python(page, server, path):
    open_notebook(page, server, path)
    c, py = editors(page).nth(0), editors(page).nth(1)
    assert (c.get_attribute("data-language"), py.get_attribute("data-language")) == ("cpp", "python")
    # the same highlighting as Python's keyword and comment: C's keyword, and a /* */ comment
    keyword, comment = token_class(py, "def"), token_class(py, "# a comment")
    assert keyword and comment and keyword != comment
    assert token_class(c, "const") == keyword
    assert token_class(c, "/* say hello from C */") == comment
    assert token_class(c, "#include")  # a preprocessor line, not a Python comment
    assert token_class(c, "#include") != comment
    if SCREENSHOT is not None and path.startswith("lab"):  # docs/highlight.png: both cells
        page.mouse.click(5, 600)  # nothing focused or selected-looking
        first, second = (page.locator(".jp-Notebook .jp-Cell").nth(i).bounding_box() for i in (0, 1))
        page.screenshot(path=str(SCREENSHOT), clip={
            "x": first["x"], "y": first["y"], "width": first["width"],
            "height": second["y"] + second["height"] - first["y"]})


def test_editing_the_first_line_switches_the_language(page, server):
    open_notebook(page, server, "lab/tree/cells.ipynb")
    c = editors(page).nth(0)
    line = c.locator(".cm-line").nth(0)
    line.click()
    page.keyboard.press("End")
    for _ in range(len("%%cx")):
        page.keyboard.press("Backspace")
    page.keyboard.type("# no magic")
    page.wait_for_selector('.jp-Notebook .jp-Cell >> nth=0 >> .cm-content[data-language="python"]')
    assert token_class(c, "/* say hello from C */") == ""  # Python has no /* */ comments
    page.keyboard.press("Home")
    page.keyboard.press("Shift+End")
    page.keyboard.type("%%cx")
    page.wait_for_selector('.jp-Notebook .jp-Cell >> nth=0 >> .cm-content[data-language="cpp"]')


def test_opening_a_stored_notebook_leaves_it_unchanged(page, server):
    """JupyterLab rewrites the kernelspec it finds different from the kernel's (and autosaves):
    the stored notebooks must already say what it writes."""
    url, token, root = server
    path = root / "work" / "quick.ipynb"
    before = path.read_bytes()
    page.goto(f"{url}/lab/tree/quick.ipynb?token={token}")
    page.wait_for_selector(".jp-Notebook .cm-content", state="attached")
    page.wait_for_function("() => document.body.innerText.includes('| Idle')")  # kernel info is in
    page.wait_for_timeout(1000)
    assert "jp-mod-dirty" not in page.locator(".lm-TabBar-tab.jp-mod-current").get_attribute("class")
    page.keyboard.press("Control+s")
    page.wait_for_timeout(1500)
    assert path.read_bytes() == before


def test_stored_notebooks_name_the_kernel_as_ipykernel_does():
    display_name = kernelspec.get_kernel_dict()["display_name"]
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        assert json.loads(path.read_text())["metadata"]["kernelspec"]["display_name"] == display_name, path.name


# -- what cx shows: outputs that read left to right, diagnostics in the editor -------------------
# In a workspace of its own: JupyterLab would restore the notebooks earlier tests opened, in hidden tabs.
OUTPUTS_LAB = "lab/workspaces/outputs/tree/outputs.ipynb"


def run_all(page, count=len(OUTPUT_CELLS), last=None):
    """Run every cell (the first cell's Shift-Enter, again and again) and wait for the last."""
    cells = page.locator(".jp-Notebook .jp-Cell")
    cells.nth(0).locator(".cm-content").click()
    page.keyboard.press("Escape")  # command mode
    page.keyboard.press("Shift+Enter")  # %load_ext cx, once the kernel is up
    page.wait_for_function("""() => /\\d/.test(document.querySelector('.jp-Notebook .jp-Cell .jp-InputPrompt')
        .textContent)""", timeout=120_000)
    for _ in range(count - 1):
        page.keyboard.press("Shift+Enter")
        page.wait_for_timeout(200)
    if last is not None:
        page.wait_for_selector(f".jp-Notebook .jp-Cell >> nth={last} >> .jp-OutputArea-output", timeout=120_000)
        return
    page.wait_for_selector(f".jp-Notebook .jp-Cell >> nth={ERROR_CELL} >> .jp-OutputArea-output", timeout=120_000)
    page.wait_for_selector(".jp-Notebook .cx-html.cx-asm-side-by-side", timeout=120_000)


def set_theme(page, dark):
    name = "JupyterLab Dark" if dark else "JupyterLab Light"
    if page.evaluate("() => document.body.dataset.jpThemeName") == name:
        return
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
    page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
    page.locator(".lm-Menu-itemLabel").get_by_text(name, exact=True).click()
    page.wait_for_function(f"() => document.body.dataset.jpThemeName === {json.dumps(name)}")
    page.wait_for_timeout(500)


def layout_problems(page):
    """Every cell of a table in cx's HTML outputs that is not aligned as text reads, every output that
    sticks out of its output area, and text on cx's pastel colours that is not dark."""
    return page.evaluate("""() => {
        const out = [];
        for (const box of document.querySelectorAll('.jp-OutputArea-output .cx-html')) {
            const area = box.closest('.jp-OutputArea-output').getBoundingClientRect();
            const r = box.getBoundingClientRect();
            if (r.right > area.right + 1 || box.scrollWidth > box.clientWidth + 1)
                out.push(`${box.className}: ${Math.round(r.width)}px wide (scroll ${box.scrollWidth}) in ` +
                         `${Math.round(area.width)}px`);
            for (const t of box.querySelectorAll('table')) {
                const s = getComputedStyle(t);
                if (s.marginLeft !== '0px') out.push(`${box.className}: table margin-left ${s.marginLeft}`);
            }
            for (const c of box.querySelectorAll('td, th')) {
                const s = getComputedStyle(c);
                const want = c.classList.contains('cx-num') ? 'right' : c.classList.contains('cx-center') ? 'center' : 'left';
                if (s.textAlign !== want)
                    out.push(`${box.className}: '${c.textContent.slice(0, 20)}' is ${s.textAlign}, not ${want}`);
                if (!c.classList.contains('cx-num') && !c.classList.contains('cx-center') && !/^pre/.test(s.whiteSpace))
                    out.push(`${box.className}: '${c.textContent.slice(0, 20)}' white-space ${s.whiteSpace}`);
            }
            for (const c of box.querySelectorAll('.cx-paper')) {
                const s = getComputedStyle(c);
                if (s.color !== 'rgb(34, 34, 34)') out.push(`${box.className}: text on a tint is ${s.color}`);
            }
        }
        return out;
    }""")


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("path", [OUTPUTS_LAB, "notebooks/outputs.ipynb"], ids=["jupyterlab", "notebook7"])
def test_outputs_read_left_to_right_and_fit(page, server, path, dark):
    """Regression: JupyterLab right-aligned listings and layouts, and side_by_side overflowed."""
    open_notebook(page, server, path)
    set_theme(page, dark)
    run_all(page)
    boxes = page.locator(".jp-OutputArea-output .cx-html")
    kinds = {c.split()[-1] for c in boxes.evaluate_all("(nodes) => nodes.map(n => n.className)")}
    assert kinds >= {"cx-asm", "cx-layout", "cx-asm-side-by-side", "cx-warnings"}
    problems = layout_problems(page)
    assert not problems, "\n".join(problems)
    # the warning is not in the red box of stderr
    warning = page.locator(f".jp-Notebook .jp-Cell >> nth={WARNING_CELL} >> .jp-OutputArea-output")
    assert warning.first.get_attribute("data-mime-type") == "text/html"


@pytest.mark.skipif(OUTPUT_SCREENSHOTS is None, reason="CX_OUTPUT_SCREENSHOTS=docs retakes the README's pictures")
def test_readme_pictures(browser, server):
    """docs/asm.png and docs/layout.png, as JupyterLab (light theme) shows them."""
    context = browser.new_context(viewport={"width": 1600, "height": 2000}, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        open_notebook(page, server, "lab/workspaces/pictures/tree/pictures.ipynb")
        set_theme(page, False)
        page.keyboard.press("Control+b")  # no side bar: the notebook as wide as the window
        run_all(page, len(PICTURE_CELLS), last=len(PICTURE_CELLS) - 1)
        page.wait_for_timeout(1000)
        page.mouse.click(5, 1950)
        assert not layout_problems(page)
        for cell, name in ((3, "asm.png"), (5, "layout.png")):
            page.locator(f".jp-Notebook .jp-Cell >> nth={cell}").scroll_into_view_if_needed()
            page.wait_for_timeout(500)
            # the cell's input and its cx outputs, as wide as what they show
            box = page.evaluate("""(n) => {
                const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[n];
                const rects = [cell.querySelector('.jp-InputArea').getBoundingClientRect(),
                               ...[...cell.querySelectorAll('.cx-html')].map(e => {
                                   const r = e.getBoundingClientRect(), w = Math.max(...[...e.querySelectorAll(
                                       'table, div')].map(t => t.getBoundingClientRect().right));
                                   return {left: r.left, top: r.top, right: Math.min(r.right, w), bottom: r.bottom};
                               })];
                const left = Math.min(...rects.map(r => r.left)), top = Math.min(...rects.map(r => r.top));
                const right = Math.max(...rects.slice(1).map(r => r.right));
                const bottom = Math.max(...rects.map(r => r.bottom));
                return {x: left - 4, y: top - 4, width: right - left + 12, height: bottom - top + 10};
            }""", cell)
            page.screenshot(path=str(OUTPUT_SCREENSHOTS / name), clip=box)
    finally:
        context.close()


# How many marks (underlines and gutter markers with a message) the editor of a cell has.
MARKS_JS = """((n) => [...document.querySelectorAll('.jp-Notebook .jp-Cell')[n].querySelectorAll(
    '.cx-diag-error, .cx-diag-warning, .cx-diag-marker')].filter(e => e.title).length)"""


def marks(page, cell):
    """(severity, title) of the diagnostics marks in a cell's editor, and of its gutter markers."""
    editor = page.locator(f".jp-Notebook .jp-Cell >> nth={cell} >> .cm-editor")
    underlines = editor.evaluate("""(e) => [...e.querySelectorAll('.cx-diag-error, .cx-diag-warning')]
        .map(n => [n.className.includes('error') ? 'error' : 'warning', n.title])""")
    gutter = editor.evaluate("(e) => [...e.querySelectorAll('.cx-diag-marker')].map(n => n.title).filter(t => t)")
    return underlines, gutter


@pytest.mark.parametrize("path", [OUTPUTS_LAB, "notebooks/outputs.ipynb"], ids=["jupyterlab", "notebook7"])
def test_compile_errors_and_warnings_are_marked_in_the_editor(page, server, path):
    open_notebook(page, server, path)
    run_all(page)
    page.wait_for_selector(f".jp-Notebook .jp-Cell >> nth={ERROR_CELL} >> .cx-diag-error")
    underlines, gutter = marks(page, ERROR_CELL)
    assert underlines == [["error", "error: ';' expected (got '}')"]]
    assert gutter == ["error: ';' expected (got '}')"]
    line4 = page.locator(f".jp-Notebook .jp-Cell >> nth={ERROR_CELL} >> .cm-line").nth(3)
    assert line4.locator(".cx-diag-error").text_content() == "}"  # the token at the line and column
    page.wait_for_selector(f".jp-Notebook .jp-Cell >> nth={WARNING_CELL} >> .cx-diag-warning")
    underlines, gutter = marks(page, WARNING_CELL)
    assert underlines == [["warning", "warning: assignment makes pointer from integer without a cast"]]
    assert len(gutter) == 1
    assert marks(page, 1) == ([], [])  # a cell that compiled cleanly has none
    # an edit clears the marks of that cell
    page.locator(f".jp-Notebook .jp-Cell >> nth={ERROR_CELL} >> .cm-line").nth(2).click()
    page.keyboard.press("End")
    page.keyboard.type(";")
    page.wait_for_function(f"() => marks({ERROR_CELL}) === 0".replace("marks", MARKS_JS))
    # running it again (now fixed): its outputs are replaced, no marks come back
    page.keyboard.press("Control+Enter")
    page.wait_for_function(f"""() => !document.querySelectorAll('.jp-Notebook .jp-Cell')[{ERROR_CELL}]
        .querySelector('.jp-OutputArea-output')""", timeout=60_000)
    page.wait_for_timeout(1000)
    assert marks(page, ERROR_CELL) == ([], [])
    assert marks(page, WARNING_CELL)[0]  # the other cell keeps its marks
