"""Standalone HTML pages that open offline.

plotly.js and the band-highlighting script are embedded; the page's style and script are
package data of :mod:`stamp_engine.web`; every string that came from a file (target
names…) is escaped.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import re
from typing import Any, Mapping, Sequence

from .. import __version__
from ..bands import Band
from ..web import bands_script, page_script, page_style
from .serialize import script_json

# ------------------------------------------------------------------------------------ HTML
def _inline_script(source: str) -> str:
    # a literal "</script" inside inlined JavaScript would end the element early
    return "<script>\n" + re.sub(r"</(script)", r"<\\/\1", source, flags=re.IGNORECASE) + "\n</script>"




#: Band name the "All" button sends: every view back as drawn.
ALL_BANDS = "All"


def _figure_json(fig: Any) -> str:
    if hasattr(fig, "to_json"):
        return fig.to_json()
    return json.dumps(fig)


def _page(sections: Sequence[tuple[str | None, Any, int]], bands: Sequence[Band], title: str) -> str:
    import plotly.offline

    escaped_title = html.escape(title, quote=True)
    band_buttons = ""
    if bands:
        buttons = [f'<button type="button" class="stamp-band" data-band="{ALL_BANDS}" aria-pressed="true">All</button>']
        for band in bands:
            label = f"{band.name} ({band.start:g}–{band.end:g} µm)"
            buttons.append(
                f'<button type="button" class="stamp-band" data-band="{html.escape(band.name, quote=True)}"'
                f' title="{html.escape(label, quote=True)}" aria-pressed="false">{html.escape(band.name)}</button>'
            )
        ranges = json.dumps([{"name": b.name, "start": b.start, "end": b.end} for b in bands])
        band_buttons = (
            f'<nav class="stamp-bands" aria-label="Highlight a band" data-bands="{html.escape(ranges, quote=True)}">'
            '<span>Highlight band:</span>' + "".join(buttons) + "</nav>"
        )
    body = []
    for i, (heading, fig, height) in enumerate(sections):
        if heading:
            body.append(f"<h2>{html.escape(heading)}</h2>")
        body.append(f'<div id="stamp-plot-{i}" class="stamp-plot" style="height:{int(height)}px"></div>')
        body.append(
            f'<script type="application/json" data-stamp-figure="stamp-plot-{i}">{script_json(_figure_json(fig))}</script>'
        )
    made = f"Made with STAMP {html.escape(__version__)} on {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')}. Opens offline: plotly.js is included."
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escaped_title}</title>",
            f"<style>\n{page_style()}</style>",
            _inline_script(plotly.offline.get_plotlyjs()),
            _inline_script(bands_script()),
            "</head>",
            "<body>",
            f"<h1>{escaped_title}</h1>",
            band_buttons,
            *body,
            f"<footer>{made}</footer>",
            _inline_script(page_script()),
            "</body>",
            "</html>",
        ]
    )


def standalone_html(fig: Any, bands: Sequence[Band], title: str, *, height: int = 720) -> str:
    """A complete HTML page showing ``fig`` that works offline.

    plotly.js and the band-highlighting script are embedded; with ``bands``, a row of
    buttons ("All" and one per band) highlights a band in every band-split trace.
    ``title`` and band names are escaped, and the figure JSON cannot close its
    ``<script>`` element, so text from file headers is always shown as text.
    """
    return _page([(None, fig, height)], bands, title)


def combined_html(figures: Mapping[str, Any] | Sequence[Any], bands: Sequence[Band], title: str) -> str:
    """All views on one page, one set of band buttons driving all of them.

    ``figures``: ``{heading: figure}`` (in order) or a sequence of figures.  3D surfaces
    get a taller plot area.
    """
    items = list(figures.items()) if isinstance(figures, Mapping) else [(None, f) for f in figures]
    sections = []
    for heading, fig in items:
        data = getattr(fig, "data", None) or (fig.get("data", []) if isinstance(fig, Mapping) else [])
        is_3d = any(getattr(t, "type", None) == "surface" or (isinstance(t, Mapping) and t.get("type") == "surface") for t in data)
        sections.append((heading, fig, 720 if is_3d else 520))
    return _page(sections, bands, title)

