"""What a map draws besides its cells: time gaps, masked (mostly NaN) columns, interpolated rows
veiled lighter, and the axes of visits side by side."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..cube import Cube
from ..labels import interpolated_flags
from ..timeaxis import TimeAxis, TimeRows, duration_text
from ..statistics import true_runs
from .common import WAVELENGTH_LABEL

#: Colour of map cells without data (gaps in time, NaN values): the plot background, and rectangles
#: over the time gaps that a band highlight draws again above its grey.  A mid grey, clearly darker
#: than the band highlight's out-of-band grey (``stamp_engine/web/stamp_bands.js``, rgb(222,222,222),
#: ≥ 60 apart in every channel) and lighter than :data:`MASK_COLOUR`, so "no data", "not in the
#: highlighted band" and "masked" are three different greys; the map's key names them.
GAP_COLOUR = "rgb(150,152,160)"
#: The out-of-band grey of a band highlight (``GREY`` in ``stamp_engine/web/stamp_bands.js``), named in the key.
BAND_DIM_COLOUR = "rgb(222,222,222)"
#: Veil over interpolated rows of a map: they look lighter than measured ones.
INTERPOLATED_VEIL = "rgba(255,255,255,0.55)"
#: Colour under the map's masked columns: no hue, darker than the gaps, so it reads as neither data nor a gap.
MASK_COLOUR = "rgb(64,64,64)"
#: Colour of the strip along a map's or spectrum's top edge over noisy channels
#: (:mod:`stamp_engine.noisy_channels`): a marker, the data under it are drawn as they are.
NOISY_COLOUR = "rgb(230,120,0)"
#: Height of that strip, as a fraction of the plot's height, just above its top edge.
NOISY_STRIP = 0.012
#: A wavelength column is masked when at least this fraction of a visit's integrations is NaN there.
MASKED_FRACTION = 0.5


def masked_columns(values: np.ndarray, fraction: float = MASKED_FRACTION) -> np.ndarray:
    """Per wavelength column of ``values`` (time × wavelength), True when ≥ ``fraction`` of it is NaN.

    The loaders turn flagged pixels (DQ ``DO_NOT_USE``, Eureka! masks) into NaN, and so
    does :meth:`Cube.clip`: a column mostly NaN is a dead or flagged one.
    """
    values = np.asarray(values)
    if values.size == 0:
        return np.zeros(values.shape[-1] if values.ndim else 0, dtype=bool)
    return np.mean(~np.isfinite(values), axis=0) >= fraction


def masked_column_rects(values: np.ndarray, edges: np.ndarray, hours: tuple[float, float],
                        axes: Mapping[str, str]) -> list[dict]:
    """Layout rectangles in :data:`MASK_COLOUR` under each run of :func:`masked_columns` of one visit.

    Drawn below the map: its cells with data stay visible, its NaN cells show the mask.
    A band highlight (``stamp_engine/web/stamp_bands.js``) draws them again above its grey,
    so masked columns stay dark outside the band too.
    """
    masked = masked_columns(values)
    if not masked.any():
        return []
    starts, stops = true_runs(masked)
    xref, yref = axes.get("xaxis", "x"), axes.get("yaxis", "y")
    return [
        {"type": "rect", "xref": xref, "yref": yref, "x0": float(edges[a]), "x1": float(edges[b]),
         "y0": hours[0], "y1": hours[1], "fillcolor": MASK_COLOUR, "line": {"width": 0}, "layer": "below",
         "name": "masked"}
        for a, b in zip(starts, stops)
    ]


def no_data_rects(lows: np.ndarray, highs: np.ndarray, x_extent: tuple[float, float],
                  axes: Mapping[str, str]) -> list[dict]:
    """Layout rectangles in :data:`GAP_COLOUR` over each time interval of one panel without data.

    ``lows``/``highs`` are the time edges of the panel's data rows (every visit drawn on
    that panel): a gap is any stretch between the first and the last that none of them
    covers (a gap row inside a visit, the time between visits on one axis).  Drawn below
    the map, they look like the plot background; a band highlight draws them again above
    its grey (``stamp_bands.js``), so a time gap still reads as "no data" outside the band.
    """
    lows, highs = np.asarray(lows, dtype=float), np.asarray(highs, dtype=float)
    if lows.size < 2:
        return []
    order = np.argsort(lows, kind="stable")
    lows, highs = lows[order], highs[order]
    covered = np.maximum.accumulate(highs)
    tolerance = 1e-9 * (covered[-1] - lows[0])  # rows that touch share an edge; rounding is no gap
    holes = np.flatnonzero(lows[1:] > covered[:-1] + tolerance)
    if holes.size == 0:
        return []
    xref, yref = axes.get("xaxis", "x"), axes.get("yaxis", "y")
    return [
        {"type": "rect", "xref": xref, "yref": yref, "x0": float(x_extent[0]), "x1": float(x_extent[1]),
         "y0": float(covered[i]), "y1": float(lows[i + 1]), "fillcolor": GAP_COLOUR, "line": {"width": 0},
         "layer": "below", "name": "gap"}
        for i in holes
    ]


def noisy_channel_rects(flagged: np.ndarray, edges: np.ndarray, xrefs: Sequence[str] = ("x",)) -> list[dict]:
    """A thin strip in :data:`NOISY_COLOUR` just above the plot, over each run of ``flagged`` columns
    (cells between ``edges``), once per x axis in ``xrefs`` (visits side by side)."""
    flagged = np.asarray(flagged, dtype=bool)
    if not flagged.any():
        return []
    starts, stops = true_runs(flagged)
    return [
        {"type": "rect", "xref": xref, "yref": "paper", "x0": float(edges[a]), "x1": float(edges[b]),
         "y0": 1.0, "y1": 1.0 + NOISY_STRIP, "fillcolor": NOISY_COLOUR, "line": {"width": 0}, "layer": "above",
         "name": "noisy"}
        for xref in xrefs for a, b in zip(starts, stops)
    ]


def noisy_key(factor: float) -> str:
    """The key's words for the strip of :func:`noisy_channel_rects`."""
    return f'<span style="color:{NOISY_COLOUR}">▬</span> noisy channels (scatter > {factor:g}× median; kept)'


#: The key's item for the grey a highlighted band puts over the rest of the map: its own annotation
#: (named :data:`BAND_KEY_ANNOTATION`, on the line under the key), drawn at opacity 0 since the
#: figure is made unhighlighted; ``stamp_bands.js`` shows it (opacity 1) while a band is highlighted.
#: Its opacity, not its text: Plotly redraws an annotation's opacity in place (6–14 ms), while a
#: changed text, a hidden or an added annotation recalculates the whole 600 × 500 heatmap (0.1–0.6 s).
BAND_DIM_KEY = f'<span style="color:{BAND_DIM_COLOUR}">■</span> outside the highlighted band'
BAND_KEY_ANNOTATION = "map-key-band"
#: Between the key's items.
KEY_SEPARATOR = "   "


def map_key(gaps: bool, cells_note: str = "", noisy: str = "", masked: bool = False) -> str:
    """The map's key as drawn with no band highlighted: a swatch and what it means for each grey
    the map shows, the noisy-channel strip (:func:`noisy_key`), and how wide its cells are
    (:func:`~.band_map.wavelength_cells`); :data:`BAND_DIM_KEY` is added in the browser."""
    items = ([(GAP_COLOUR, "no data (time gap, NaN)")] if gaps else []) + \
            ([(MASK_COLOUR, "masked column")] if masked else [])
    swatches = [f'<span style="color:{colour}">■</span> {text}' for colour, text in items]
    return KEY_SEPARATOR.join(swatches + [text for text in (noisy, cells_note) if text])


def interpolated_rows(cube: Cube) -> np.ndarray:
    """Per row, True when ``interpolate_gaps`` made it (or it is a bin holding such a row)."""
    flags = interpolated_flags(cube)
    return flags if flags is not None else np.zeros(cube.n_integrations, dtype=bool)


def _interpolated_veils(rows: TimeRows, interpolated: np.ndarray, axes: Mapping[str, str]) -> list[dict]:
    """Layout rectangles lightening each run of interpolated rows of one visit panel."""
    made = np.zeros(rows.take.size, dtype=bool)
    made[rows.take >= 0] = interpolated[rows.take[rows.take >= 0]]
    if not made.any():
        return []
    starts, stops = true_runs(made)
    xref = axes.get("xaxis", "x")
    yref = axes.get("yaxis", "y")
    return [
        {"type": "rect", "xref": f"{xref} domain", "yref": yref, "x0": 0, "x1": 1,
         "y0": float(rows.edges[a]), "y1": float(rows.edges[b]), "fillcolor": INTERPOLATED_VEIL,
         "line": {"width": 0}, "layer": "above", "name": "interpolated"}
        for a, b in zip(starts, stops)
    ]


def _panel_axes(visit: int) -> dict[str, str]:
    """Trace axes of a visit's panel when visits are side by side (visit 0 on x / y)."""
    suffix = "" if visit == 0 else str(visit + 1)
    return {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}


def _visit_panels_layout(shown: Cube, hours: np.ndarray, axis: TimeAxis) -> dict:
    """Axes of a map with one panel per visit, side by side, each in ``axis``'s unit since its visit's start."""
    n = shown.n_visits
    gap = 0.04
    width = (1.0 - gap * (n - 1)) / n
    layout: dict = {}
    annotations = []
    for v in range(n):
        suffix = "" if v == 0 else str(v + 1)
        left = v * (width + gap)
        layout[f"xaxis{suffix}"] = {"domain": [left, left + width], "anchor": f"y{suffix}",
                                    "title": {"text": WAVELENGTH_LABEL}}
        layout[f"yaxis{suffix}"] = {"anchor": f"x{suffix}", **axis.axis_layout(),
                                    "title": {"text": axis.title if v == 0 else ""}}
        start = float(hours[np.flatnonzero(shown.visit == v)[0]])
        annotations.append({"text": f"Visit {v + 1}: starts {duration_text(start)} after t0", "showarrow": False,
                            "xref": f"x{suffix} domain", "yref": "paper", "x": 0.5, "y": 1.0,
                            "xanchor": "center", "yanchor": "bottom", "font": {"size": 12}})
    layout["annotations"] = annotations
    return layout
