"""The 3D surface and the heatmap (2D map) of a cube, one trace per visit.

Both come from one builder: the same display binning, value scale, colour axis, band
meta (:mod:`.band_map`) and gap-aware rows per visit; they differ in the trace type, the
surface's coarser grid (:func:`surface_grid`) and the heatmap's overlays
(:mod:`.map_overlays`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from ..bands import Band
from ..colour import stretch_ticks
from ..cube import Cube
from ..timeaxis import time_rows, visits_side_by_side
from .band_map import _band_map_meta, _cell_edges, band_columns, surface_vertex_columns
from .colour_axis import (
    COLORAXIS,
    _coloraxis,
    _colorscale_name,
    _colour_range,
    _stretched_range,
    browser_colours,
)
from .common import (
    _TEMPLATE,
    MAX_DISPLAY_TIME,
    MAX_DISPLAY_WAVELENGTH,
    SURFACE_Z_PAD,
    WAVELENGTH_LABEL,
    _f32,
    _hours_since,
    _padded,
    _title,
    _value_name_and_unit,
    _value_scale,
    _ValueScale,
    display_cube,
)
from .map_overlays import (
    GAP_COLOUR,
    MASK_COLOUR,
    MASKED_FRACTION,
    _interpolated_veils,
    _panel_axes,
    _visit_panels_layout,
    interpolated_rows,
    masked_column_rects,
)


#: The 3D surface's grid: at most about this many vertices along time and along
#: wavelength, whatever the display resolution.  The surface is for the shape (the
#: heatmap, at display resolution, for the detail), and software WebGL draws and
#: re-colours a surface in time proportional to its vertices (headless Chromium on a
#: loaded 2-core machine: a band highlight of 600 × 500 took 6–7 s, of 200 × 250 1–3 s).
SURFACE_MAX_TIME = 200
SURFACE_MAX_WAVELENGTH = 250


def surface_grid(max_time: int = MAX_DISPLAY_TIME, max_wavelength: int = MAX_DISPLAY_WAVELENGTH) -> tuple[int, int]:
    """The (time, wavelength) limits a 3D surface is binned to for display limits ``max_time`` × ``max_wavelength``:
    those, capped at :data:`SURFACE_MAX_TIME` × :data:`SURFACE_MAX_WAVELENGTH`."""
    return min(max_time, SURFACE_MAX_TIME), min(max_wavelength, SURFACE_MAX_WAVELENGTH)


def _hover_template(cube: Cube, visit_label: str, scale: _ValueScale | None = None, since_visit_start: bool = False) -> str:
    scale = scale or _ValueScale(*_value_name_and_unit(cube))
    unit = f" {scale.unit}" if scale.unit and scale.stretch == "linear" else ""
    error_unit = f" {scale.unit}" if scale.unit else ""
    since = "since visit start" if since_visit_start else f"({cube.time_standard} − t0)"
    return (
        "λ = %{x:.4f} µm<br>"
        f"t = %{{y:.4f}} h {since}<br>"
        f"{scale.hover_name} = %{{z:.4g}}{unit}<br>"
        f"error = ± %{{customdata:.3g}}{error_unit}"
        f"<extra>{visit_label}</extra>"
    )


def surface_figure(
    cube: Cube,
    bands: Sequence[Band] = (),
    colorscale: str | None = None,
    zrange: tuple[float, float] | None = None,
    title: str | None = None,
    *,
    max_time: int = MAX_DISPLAY_TIME,
    max_wavelength: int = MAX_DISPLAY_WAVELENGTH,
    stretch: str = "linear",
) -> go.Figure:
    """3D surface: wavelength × time × (variability % or flux), one surface per visit.

    Parameters
    ----------
    cube : Cube
        Any resolution; binned to ``max_time`` × ``max_wavelength`` for display, at most
        :data:`SURFACE_MAX_TIME` × :data:`SURFACE_MAX_WAVELENGTH` (:func:`surface_grid`):
        a surface shows shape, the heatmap detail.
    bands : sequence of Band
        Bands the browser can highlight (their display columns go into the trace meta).
    colorscale : str, optional
        A name from :data:`COLORSCALES`; default RdBu_r for variability (centred on 0),
        Viridis for flux.
    zrange : (float, float), optional
        Fixed z and colour range (in the cube's unit); default robust limits of the
        well-measured wavelengths (:func:`stamp_engine.colour.robust_colour_limits`).
        On a diverging scale 0 % keeps the centre colour
        (:func:`stamp_engine.colour.centred_colorscale`) as long as the range contains 0.
    title : str, optional
    stretch : {"linear", "log", "asinh"}
        Colour (and height) stretch of raw flux (:data:`stamp_engine.colour.STRETCHES`);
        the colour bar is labelled in flux.  Variability is always linear.

    Returns
    -------
    plotly.graph_objects.Figure
        One ``go.Surface`` per visit (band meta: :mod:`stamp_engine.figures.band_map`) on one shared
        colour axis; hover shows time, wavelength, value and error.
    """
    return _grid_figure(cube, bands, colorscale, zrange, title, max_time, max_wavelength, kind="surface", stretch=stretch)


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
) -> go.Figure:
    """2D map (x wavelength, y time) of the same data as :func:`surface_figure`.

    Each visit is one trace (one panel when visits are side by side). Nothing is drawn
    across a time gap: a step
    longer than a few cadences (:data:`stamp_engine.timeaxis.GAP_CADENCES`) gets an
    empty row in :data:`GAP_COLOUR`, whatever the visit threshold.  Rows made by
    ``interpolate_gaps`` are drawn lighter and show no error.

    Parameters
    ----------
    visits : {"auto", "one axis", "side by side"}
        One time axis for all visits, or one panel per visit (hours since its start);
        ``"auto"`` puts visits side by side when one axis would be mostly empty
        (:func:`stamp_engine.timeaxis.visits_side_by_side`).

    Other parameters as :func:`surface_figure`.
    """
    return _grid_figure(cube, bands, colorscale, zrange, title, max_time, max_wavelength, kind="heatmap",
                        stretch=stretch, visits=visits)


def _grid_figure(
    cube: Cube,
    bands: Sequence[Band],
    scale: str | None,
    zrange: tuple[float, float] | None,
    title: str | None,
    max_time: int,
    max_wavelength: int,
    kind: str,
    stretch: str = "linear",
    visits: str = "one axis",
) -> go.Figure:
    scale_name = _colorscale_name(cube, scale)
    if kind == "surface":
        max_time, max_wavelength = surface_grid(max_time, max_wavelength)
    shown = display_cube(cube, max_time=max_time, max_wavelength=max_wavelength)
    hours = _hours_since(shown.time, cube.t0) if cube.n_integrations else np.empty(0)
    values = _value_scale(cube, shown, stretch)
    drawn = values.apply(shown.flux)
    limits = _colour_range(drawn, cube.is_normalized, _stretched_range(zrange, values))
    spans = band_columns(shown.wavelength, bands)
    n_visits = shown.n_visits
    panels = kind == "heatmap" and visits_side_by_side(hours, shown.visit, visits)
    interpolated = interpolated_rows(shown)
    edges = _cell_edges(shown.wavelength) if shown.n_wavelengths else np.zeros(2)
    if kind == "surface":
        columns, ranges = surface_vertex_columns(shown.n_wavelengths, spans)
        x = _f32(shown.wavelength[columns])
    else:
        # A heatmap is given cell edges: its cells tile the axis exactly, one trace per
        # visit, so nothing anti-aliases inside the map.
        columns, ranges = np.arange(shown.n_wavelengths), [(s.start, s.stop) for s in spans]
        x = _f32(edges)
    traces = []
    veils: list[dict] = []
    masks: list[dict] = []
    for v in range(n_visits):
        rows = np.flatnonzero(shown.visit == v)
        if rows.size == 0:
            continue
        visit_label = f"Visit {v + 1}" if n_visits > 1 else ""
        template = _hover_template(cube, visit_label, values, since_visit_start=panels)
        visit_hours = hours[rows] - hours[rows[0]] if panels else hours[rows]
        drawn_rows = time_rows(visit_hours)  # an empty row in every gap: nothing stretched across it
        flux = drawn_rows.expand(drawn[rows])
        error = drawn_rows.expand(np.where(interpolated[rows, None], np.nan, shown.error[rows]))
        axes = _panel_axes(v) if panels else {}
        if kind == "heatmap":
            veils += _interpolated_veils(drawn_rows, interpolated[rows], axes)
            masks += masked_column_rects(drawn[rows], edges, (float(drawn_rows.edges[0]), float(drawn_rows.edges[-1])), axes)
        common = dict(
            x=x,
            y=_f32(drawn_rows.centres if kind == "surface" else drawn_rows.edges),
            z=_f32(flux[:, columns]),
            coloraxis=COLORAXIS,
            hovertemplate=template,
            name=visit_label or "Data",
            meta=_band_map_meta(v, edges, spans, ranges),
            **axes,
        )
        if kind == "surface":
            # Plotly.js looks up a surface's customdata as customdata[x index][y index],
            # the transpose of z (see the gl3d scene hover), hence error.T.
            traces.append(
                go.Surface(
                    **common,
                    customdata=_f32(error[:, columns].T),
                    lighting={"ambient": 0.85, "diffuse": 0.3, "specular": 0.05, "roughness": 0.9},
                    showlegend=False,
                )
            )
        else:
            traces.append(go.Heatmap(**common, customdata=_f32(error), zsmooth=False, showlegend=False,
                                     hoverongaps=False))
    fig = go.Figure(data=traces)
    fig.update_layout(
        template=_TEMPLATE,
        title={"text": _title(cube, title, "3D view" if kind == "surface" else "map")},
        coloraxis=_coloraxis(cube, scale_name, limits, values),
        margin={"l": 10 if kind == "surface" else 70, "r": 10, "t": 50, "b": 10 if kind == "surface" else 60},
        uirevision="stamp",
        meta={"stamp_figure": kind, "time_standard": cube.time_standard, "t0_mjd": float(cube.t0.mjd) if cube.n_integrations else None,
              "visits_side_by_side": bool(panels),
              **({"colour": browser_colours(cube, values, drawn, limits, zrange)} if kind == "heatmap" else {})},
    )
    if kind == "surface":
        zaxis = {"title": {"text": values.label}}
        z_range = limits if zrange is not None else _padded(limits, SURFACE_Z_PAD)
        if z_range is not None:
            # Not Plotly's autorange: a few noisy edge columns would flatten the surface.
            zaxis["range"] = list(z_range)
        tickvals, ticktext = stretch_ticks(*(limits or (0.0, 0.0)), values.stretch, values.softening)
        if tickvals:
            zaxis.update(tickvals=tickvals, ticktext=ticktext)
        fig.update_layout(
            scene={
                "xaxis": {"title": {"text": WAVELENGTH_LABEL}},
                "yaxis": {"title": {"text": cube.time_label}},
                "zaxis": zaxis,
                "aspectmode": "manual",
                "aspectratio": {"x": 1.5, "y": 1.5, "z": 0.7},
                "camera": {"eye": {"x": 1.6, "y": -1.6, "z": 0.9}},
                "uirevision": "stamp",
            }
        )
    else:
        fig.update_layout(plot_bgcolor=GAP_COLOUR, shapes=masks + veils)  # gaps read as empty, not as data
        fig.update_layout(_visit_panels_layout(shown, hours, cube.time_standard) if panels else
                          {"xaxis": {"title": {"text": WAVELENGTH_LABEL}}, "yaxis": {"title": {"text": cube.time_label}}})
        fig.update_xaxes(showgrid=False)  # grid lines would stripe the gaps
        fig.update_yaxes(showgrid=False)
        if veils:
            fig.add_annotation(text="lighter rows: interpolated for display (no error)", showarrow=False,
                               xref="paper", yref="paper", x=1.0, y=1.0, xanchor="right", yanchor="bottom",
                               font={"size": 11, "color": "#555"})
        if masks:
            fig.add_annotation(text=f"dark columns: masked (NaN, flagged or clipped in ≥ {MASKED_FRACTION:.0%} of integrations)",
                               showarrow=False, xref="paper", yref="paper", x=0.0, y=1.0, xanchor="left",
                               yanchor="bottom", font={"size": 11, "color": MASK_COLOUR})
    return fig
