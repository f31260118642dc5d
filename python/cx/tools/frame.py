"""The frame of every HTML output of cx (listings, layouts): it reads left to right and fits the
output area, in JupyterLab and Notebook 7, light and dark themes.

Their stylesheet (``.jp-RenderedHTMLCommon``) centres tables, right-aligns cells, sets
``white-space: normal`` (cx's cells keep their spaces and wrap only where the area ends), stripes and highlights rows and colours text for the theme; a
``text-align`` on the table does not reach its cells. So each output carries a scoped ``<style>``
whose selectors repeat cx's class three times (``.cx-html.cx-html.cx-html td``: more specific than
``.jp-RenderedHTMLCommon tbody tr:nth-child(odd)``) and undo exactly that inside cx's outputs.
Text on cx's own pastel colours is set dark (``cx-paper``), so it stays readable in a dark theme;
anything else takes the theme's colours.
"""
from __future__ import annotations

__all__ = ["CLASS", "wrap"]

#: The class of the outermost element of every HTML output of cx.
CLASS = "cx-html"

_S = ".cx-html.cx-html.cx-html"
STYLE = (
    "<style>"
    f"{_S}{{text-align:left;font-family:var(--jp-code-font-family,monospace);font-size:12px;"
    "line-height:1.4;max-width:100%;overflow-x:auto;color:var(--jp-content-font-color1,#222)}"
    f"{_S} table{{margin:0 0 6px 0;border-collapse:collapse;table-layout:auto;width:auto;"
    "font-size:inherit;color:inherit;border:none}"
    f"{_S} tr,{_S} td,{_S} th{{text-align:left;white-space:pre-wrap;vertical-align:top;padding:0 6px;"
    "line-height:inherit;border:none;background:transparent;max-width:none}"
    f"{_S} tr:hover{{background:transparent}}"
    f"{_S} .cx-num{{text-align:right}}"
    f"{_S} .cx-center{{text-align:center}}"
    f"{_S} .cx-paper{{color:#222}}"
    "</style>"
)


def wrap(kind: str, body: str) -> str:
    """``body`` (HTML) in cx's frame: ``<div class="cx-html cx-KIND">``, with the scoped style."""
    return f'<div class="{CLASS} cx-{kind}">{STYLE}{body}</div>'
