"""Which display columns each band covers, and the trace meta the browser highlights bands from.

Band highlighting: surfaces and heatmaps are ONE trace per visit (no seams where bands
meet); each carries ``meta = {"role": "band-map", "visit": v, "extent": [x0, x1],
"bands": [{"name", "columns": [start, stop], "x": [x0, x1]}, …]}`` — the display columns
and the wavelength span (cell edges, µm) of every band inside the data
(:func:`band_columns`). ``stamp_engine/web/stamp_bands.js`` highlights a band in the browser: opaque
light-grey layout shapes over the other columns of a heatmap (a relayout, no trace
redraw) and, on a surface, a ``surfacecolor`` that sends the other columns to a grey
stop added below the colour axis's scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..bands import Band


@dataclass(frozen=True)
class BandColumns:
    """Display columns ``start:stop`` of the band ``name`` (wavelength ascending)."""

    name: str
    start: int
    stop: int


def _cell_edges(centres: np.ndarray) -> np.ndarray:
    """Edges of the cells around ascending ``centres``: midpoints, half a step beyond each end."""
    if centres.size == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    mid = 0.5 * (centres[1:] + centres[:-1])
    return np.concatenate([[2 * centres[0] - mid[0]], mid, [2 * centres[-1] - mid[-1]]])


#: A cube with at most this many wavelength channels says how its cells' widths were found.
FEW_CHANNELS = 3


@dataclass(frozen=True)
class WavelengthCells:
    """The wavelength edges (µm, ``n + 1``, ascending) of a map's cells, and what the map's key says about them."""

    edges: np.ndarray
    note: str = ""


def _file_channel_edges(cube, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(low, high) edges of each of ``centres`` from ``cube.meta["channel_edges"]``, or None when any is not there."""
    known = cube.meta.get("channel_edges") if isinstance(cube.meta, dict) else None
    if not known:
        return None
    centre, low, high = (np.asarray(known[k], dtype=float) for k in ("centre", "low", "high"))
    order = np.argsort(centre)
    centre, low, high = centre[order], low[order], high[order]
    at = np.clip(np.searchsorted(centre, centres), 0, centre.size - 1)
    nearer = np.clip(at - 1, 0, centre.size - 1)
    at = np.where(np.abs(centre[nearer] - centres) < np.abs(centre[at] - centres), nearer, at)
    if not np.allclose(centre[at], centres, rtol=1e-9, atol=0.0):
        return None  # binned or resampled in wavelength: the file's channels are not these columns
    low, high = low[at], high[at]
    if not (np.all(np.isfinite(low) & np.isfinite(high)) and np.all(low <= centres) and np.all(centres <= high)
            and np.all(low < high)):
        return None
    return low, high


def wavelength_cells(cube) -> WavelengthCells:
    """Edges of the map cells of ``cube``'s wavelengths: the file's channel edges when it gives them.

    A Eureka! S4 light-curve file gives each channel's ``wave_low``/``wave_hi`` (or
    ``wave_err``), kept by :func:`stamp_engine.load` in ``cube.meta["channel_edges"]``:
    cells are then as wide as the channels (uneven widths stay uneven, and a band covers
    the channels' true span).  Neighbouring channels that do not touch meet halfway, and
    the note says so.  Otherwise (x1dints pixels, a cube binned in wavelength) cells reach
    halfway to the neighbouring centres; with at most :data:`FEW_CHANNELS` channels, where
    that width is a guess a reader would notice, the note says so too.
    """
    centres = np.asarray(cube.wavelength, dtype=float)
    if centres.size == 0:
        return WavelengthCells(np.zeros(2))
    known = _file_channel_edges(cube, centres)
    if known is None:
        note = "cells: channel centres ± half their spacing (the file gives no channel edges)" \
            if centres.size <= FEW_CHANNELS else ""
        return WavelengthCells(_cell_edges(centres), note)
    low, high = known
    inner = np.where(np.isclose(high[:-1], low[1:], rtol=1e-6, atol=0.0), low[1:], 0.5 * (high[:-1] + low[1:]))
    apart = int(np.count_nonzero(~np.isclose(high[:-1], low[1:], rtol=1e-6, atol=0.0)))
    note = "cells: the file's channel edges" + (
        f" ({apart} pair(s) of neighbouring channels do not touch: their cells meet halfway)" if apart else "")
    return WavelengthCells(np.concatenate([[low[0]], inner, [high[-1]]]), note)


def _band_columns(wavelength: np.ndarray, band: Band) -> tuple[int, int]:
    """Column range ``[start, stop)`` of ``band`` (wavelength ascending).

    A band narrower than one display column still gets the column nearest its centre,
    so choosing it in the dashboard always lights something up.
    """
    start = int(np.searchsorted(wavelength, band.start, side="left"))
    stop = int(np.searchsorted(wavelength, band.end, side="right"))
    if start == stop and wavelength.size and band.overlaps(float(wavelength[0]), float(wavelength[-1])):
        nearest = int(np.argmin(np.abs(wavelength - 0.5 * (band.start + band.end))))
        start, stop = nearest, nearest + 1
    return start, stop


def band_columns(wavelength: np.ndarray, bands: Sequence[Band] = ()) -> list[BandColumns]:
    """The display columns of each band that holds at least one of them.

    Parameters
    ----------
    wavelength : ndarray
        Ascending wavelengths (µm) of the columns.
    bands : sequence of Band

    Returns
    -------
    list of BandColumns
        In the order of ``bands``; bands outside the data are left out.
    """
    spans = [BandColumns(band.name, *_band_columns(np.asarray(wavelength), band)) for band in bands]
    return [span for span in spans if span.start < span.stop]


def surface_vertex_columns(n_wave: int, spans: Sequence[BandColumns]) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Columns of a surface's vertices, with every band edge drawn twice, and each band's vertex range.

    A surface colours the quad between two vertices by interpolating their values, so a
    band edge between an in-band and a greyed vertex would show every colour of the scale
    in between. Each inner band edge column ``c`` is therefore repeated: the first copy
    ends the quad on its left, the second starts the one on its right (a zero-width
    quad joins them). The quad between columns ``j`` and ``j + 1`` belongs to the band
    holding ``j``, as the heatmap cell ``j`` does.

    Returns
    -------
    columns : ndarray of int
        Display column of each vertex column (ascending, edges repeated).
    ranges : list of (int, int)
        Per span, the vertex columns ``[start, stop)`` drawn in the band's colours.
    """
    cuts = np.unique([c for s in spans for c in (s.start, s.stop) if 0 < c < n_wave]).astype(int)
    every = np.arange(n_wave)
    columns = np.repeat(every, 1 + np.isin(every, cuts))
    first_copy = every + np.searchsorted(cuts, every, side="left")  # vertex index of column c's first copy

    def vertex_range(span: BandColumns) -> tuple[int, int]:
        start = int(first_copy[span.start]) + (1 if span.start > 0 else 0)
        stop = int(first_copy[span.stop]) + 1 if span.stop < n_wave else int(columns.size)
        return start, stop

    return columns, [vertex_range(s) for s in spans]


#: A surface of at most this many wavelength channels is drawn in steps (:func:`surface_step_vertices`).
STEP_SURFACE_MAX_CHANNELS = 12


def surface_step_vertices(n_wave: int, spans: Sequence[BandColumns]) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """A surface of few channels in steps: each channel a flat strip across its cell, as on the heatmap.

    With vertices at the channel centres (:func:`surface_vertex_columns`), a surface of two
    channels is one sloping quad owned by the first: a slope between two measurements that
    looks like one, and a band over the last channel had no quad to colour at all.  Here
    channel ``j`` has a vertex at each edge of its cell (``edges[j]`` and ``edges[j + 1]``);
    neighbouring channels meet in a vertical step.  At a band's edge the two vertices either
    side of the step are drawn twice, so that the step is drawn in the band's colours and
    the change to grey falls on a quad of zero size.

    Returns
    -------
    columns : ndarray of int
        Display column of each vertex column.
    edge_index : ndarray of int
        Index into the cell edges of each vertex column's wavelength.
    ranges : list of (int, int)
        Per span, the vertex columns ``[start, stop)`` drawn in the band's colours.
    """
    base = np.arange(2 * n_wave)
    base_columns, base_edges = base // 2, base // 2 + base % 2
    cuts = np.unique([c for s in spans for c in (s.start, s.stop) if 0 < c < n_wave]).astype(int)
    counts = np.ones(base.size, dtype=int)
    counts[2 * cuts - 1] = 2  # the last vertex of the channel before the cut
    counts[2 * cuts] = 2  # the first vertex of the channel after it
    first_copy = np.cumsum(counts) - counts
    columns, edge_index = np.repeat(base_columns, counts), np.repeat(base_edges, counts)

    def vertex_range(span: BandColumns) -> tuple[int, int]:
        start = int(first_copy[2 * span.start - 1]) + 1 if span.start > 0 else 0
        stop = int(first_copy[2 * span.stop]) + 1 if span.stop < n_wave else int(columns.size)
        return start, stop

    return columns, edge_index, [vertex_range(s) for s in spans]


def _band_map_meta(visit: int, edges: np.ndarray, spans: Sequence[BandColumns], ranges: Sequence[tuple[int, int]]) -> dict:
    """The trace meta ``stamp_engine/web/stamp_bands.js`` highlights from (see the module docstring);
    ``ranges`` are the z columns drawn in each band's colours."""
    return {
        "role": "band-map",
        "visit": int(visit),
        "extent": [float(edges[0]), float(edges[-1])],
        "bands": [
            {"name": s.name, "columns": [int(a), int(b)], "x": [float(edges[s.start]), float(edges[s.stop])]}
            for s, (a, b) in zip(spans, ranges)
        ],
    }
