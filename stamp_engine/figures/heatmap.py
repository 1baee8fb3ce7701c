"""The heatmap (2D map) of a cube: x wavelength, y time, one trace per visit, gaps drawn empty."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from ..bands import Band
from ..cube import Cube
from ..noisy_channels import noisy_channels
from ..timeaxis import visits_side_by_side
from .colour_axis import browser_colours
from .common import MAX_DISPLAY_TIME, MAX_DISPLAY_WAVELENGTH, WAVELENGTH_LABEL, _f32
from .map_overlays import (
    BAND_DIM_KEY,
    BAND_KEY_ANNOTATION,
    GAP_COLOUR,
    MASK_COLOUR,
    MASKED_FRACTION,
    _interpolated_veils,
    _visit_panels_layout,
    map_key,
    masked_column_rects,
    no_data_rects,
    noisy_channel_rects,
    noisy_key,
)
from .maps import _map_data, _map_layout, _visit_maps

#: Right margin of a heatmap (px): room for the colour bar whatever its tick labels, so that a new
#: colour range (other labels) does not resize the plot, which would make plotly.js redraw every cell.
HEATMAP_RIGHT_MARGIN = 140


def heatmap_figure(
    cube: Cube,
    bands: Sequence[Band] = (),
    colorscale: str | None = None,
    zrange: tuple[float, float] | None = None,
    title: str | None = None,
    *,
    max_time: int = MAX_DISPLAY_TIME,
    max_wavelength: int = MAX_DISPLAY_WAVELENGTH,
    stretch: str = "linear",
    visits: str = "auto",
    errors: str = "customdata",
) -> go.Figure:
    """2D map (x wavelength, y time) of the same data as :func:`surface_figure`.

    Time is drawn in the unit of ``cube.time_axis()`` (seconds to days by the span,
    :func:`stamp_engine.timeaxis.display_time_unit`); the axis title prints t0.

    Each visit is one trace (one panel when visits are side by side). Nothing is drawn
    across a time gap: a step
    longer than a few cadences (:data:`stamp_engine.timeaxis.GAP_CADENCES`) gets an
    empty row in :data:`GAP_COLOUR`, whatever the visit threshold (a mid grey, darker than the
    band highlight's out-of-band grey; the key under the map names both).  Rows made by
    ``interpolate_gaps`` are drawn lighter and show no error.

    Parameters
    ----------
    visits : {"auto", "one axis", "side by side"}
        One time axis for all visits, or one panel per visit (time since its start);
        ``"auto"`` puts visits side by side when one axis would be mostly empty
        (:func:`stamp_engine.timeaxis.visits_side_by_side`).
    errors : {"customdata", "rows"}
        Where the hover finds each cell's error: the trace's ``customdata`` (a figure that
        stands alone), or, with ``"rows"``, a page that holds ``cube.error`` already (the
        dashboard sends it once per result for the linked exploration): each trace's
        ``meta["error_rows"]`` gives the row of ``cube.error`` each drawn row shows (-1 for a
        gap row, or an interpolated row, which shows no error) and the page fills in the
        customdata.  ``"rows"`` needs ``cube`` at display resolution (else ``"customdata"``).

    Other parameters as :func:`surface_figure`.
    """
    data = _map_data(cube, bands, colorscale, zrange, max_time, max_wavelength, stretch)
    shown, hours, drawn, edges = data.shown, data.hours, data.drawn, data.edges
    panels = visits_side_by_side(hours, shown.visit, visits)
    # A heatmap is given cell edges: its cells tile the axis exactly, one trace per
    # visit, so nothing anti-aliases inside the map.
    columns, ranges = np.arange(shown.n_wavelengths), [(s.start, s.stop) for s in data.spans]
    x = _f32(edges)
    traces = []
    veils: list[dict] = []
    masks: list[dict] = []
    if errors not in ("customdata", "rows"):
        raise ValueError(f"errors must be 'customdata' or 'rows', not {errors!r}")
    error_rows = errors == "rows" and shown.flux.shape == cube.flux.shape
    data_rows: dict[tuple[str, str], list[np.ndarray]] = {}  # per panel: time edges of the rows with data
    for visit in _visit_maps(cube, data, panels):
        rows, drawn_rows = visit.rows, visit.drawn_rows
        with_data = ~drawn_rows.gap_rows
        panel = data_rows.setdefault((visit.axes.get("xaxis", "x"), visit.axes.get("yaxis", "y")), [])
        panel.append(np.stack([drawn_rows.edges[:-1][with_data], drawn_rows.edges[1:][with_data]]))
        veils += _interpolated_veils(drawn_rows, data.interpolated[rows], visit.axes)
        masks += masked_column_rects(drawn[rows], edges, (float(drawn_rows.edges[0]), float(drawn_rows.edges[-1])), visit.axes)
        trace = visit.trace(data, x, drawn_rows.edges, columns, ranges)
        if error_rows:
            shows = np.where(drawn_rows.take >= 0, rows[np.maximum(drawn_rows.take, 0)], -1)
            shows[(shows >= 0) & data.interpolated[np.maximum(shows, 0)]] = -1
            trace["meta"] = {**trace["meta"], "error_rows": [int(r) for r in shows]}
        else:
            trace["customdata"] = _f32(visit.error)
        traces.append(go.Heatmap(**trace, zsmooth=False, showlegend=False, hoverongaps=False))
    gaps = [rect for (xref, yref), parts in data_rows.items()
            for rect in no_data_rects(*np.concatenate(parts, axis=1), (float(edges[0]), float(edges[-1])),
                                      {"xaxis": xref, "yaxis": yref})]
    noisy = noisy_channels(shown.flux, cube.is_normalized)
    strips = noisy_channel_rects(noisy.flagged, edges, sorted({xref for xref, _ in data_rows}))
    fig = go.Figure(data=traces)
    fig.update_layout(**_map_layout(cube, data, title, "heatmap", {"l": 70, "r": HEATMAP_RIGHT_MARGIN, "t": 50, "b": 94}, panels,
                                    colour=browser_colours(cube, data.values, drawn, data.limits, zrange)))
    fig.update_layout(plot_bgcolor=GAP_COLOUR, shapes=masks + gaps + veils + strips)  # gaps read as empty, not as data
    axis = cube.time_axis(panels)
    fig.update_layout(_visit_panels_layout(shown, hours, axis) if panels else
                      {"xaxis": {"title": {"text": WAVELENGTH_LABEL}}, "yaxis": axis.axis_layout()})
    # Grid lines would stripe the gaps, and the template's light zero line (rgb(235,240,248)) showed
    # through masked and empty cells at t0 as a line of data.
    fig.update_xaxes(showgrid=False, zeroline=False)
    fig.update_yaxes(showgrid=False, zeroline=False)
    if veils:
        fig.add_annotation(text="lighter rows: interpolated for display (no error)", showarrow=False,
                           xref="paper", yref="paper", x=1.0, y=1.0, xanchor="right", yanchor="bottom",
                           font={"size": 11, "color": "#555"})
    key = map_key(bool(gaps) or not np.isfinite(drawn).all(), data.cells_note,
                  noisy_key(noisy.factor) if strips else "", masked=bool(masks))
    if key:
        fig.add_annotation(text=key, showarrow=False, xref="paper", yref="paper", x=0.0, y=0.0, xanchor="left",
                           yanchor="top", yshift=-54, font={"size": 11, "color": "#555"}, name="map-key")
    if data.spans:  # shown by the browser while a band is highlighted (stamp_bands.js)
        fig.add_annotation(text=BAND_DIM_KEY, showarrow=False, xref="paper", yref="paper", x=0.0, y=0.0,
                           xanchor="left", yanchor="top", yshift=-54 if not key else -69, opacity=0,
                           font={"size": 11, "color": "#555"}, name=BAND_KEY_ANNOTATION)
    if masks:
        fig.add_annotation(text=f"dark columns: masked (NaN, flagged or clipped in ≥ {MASKED_FRACTION:.0%} of integrations)",
                           showarrow=False, xref="paper", yref="paper", x=0.0, y=1.0, xanchor="left",
                           yanchor="bottom", font={"size": 11, "color": MASK_COLOUR})
    return fig
