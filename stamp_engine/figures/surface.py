"""The 3D surface of a cube: wavelength × time × value, one surface per visit, on a decimated grid."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from ..bands import Band
from ..colour import stretch_ticks
from ..cube import Cube
from .band_map import STEP_SURFACE_MAX_CHANNELS, surface_step_vertices, surface_vertex_columns
from .common import (
    MAX_DISPLAY_TIME,
    MAX_DISPLAY_WAVELENGTH,
    SURFACE_Z_PAD,
    WAVELENGTH_LABEL,
    _f32,
    _padded,
)
from .maps import HOVER_FIELDS, _map_data, _map_layout, _visit_maps

#: The 3D surface's grid: at most about this many vertices along time and along
#: wavelength, whatever the display resolution.  The surface is for the shape (the
#: heatmap, at display resolution, for the detail), and software WebGL draws and
#: re-colours a surface in time proportional to its vertices (headless Chromium on a
#: loaded 2-core machine: a band highlight of 600 × 500 took 6–7 s, of 200 × 250 1–3 s).
SURFACE_MAX_TIME = 200
SURFACE_MAX_WAVELENGTH = 250


#: The hover of a surface in steps: its customdata holds (error, channel centre) per vertex.
STEP_HOVER_FIELDS = {"wavelength": "%{customdata[1]:.4f} µm (channel centre)", "error": "%{customdata[0]:.3g}"}


def surface_grid(max_time: int = MAX_DISPLAY_TIME, max_wavelength: int = MAX_DISPLAY_WAVELENGTH) -> tuple[int, int]:
    """The (time, wavelength) limits a 3D surface is binned to for display limits ``max_time`` × ``max_wavelength``:
    those, capped at :data:`SURFACE_MAX_TIME` × :data:`SURFACE_MAX_WAVELENGTH`."""
    return min(max_time, SURFACE_MAX_TIME), min(max_wavelength, SURFACE_MAX_WAVELENGTH)


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
    max_time, max_wavelength = surface_grid(max_time, max_wavelength)
    data = _map_data(cube, bands, colorscale, zrange, max_time, max_wavelength, stretch)
    shown, limits, values = data.shown, data.limits, data.values
    steps = 2 <= shown.n_wavelengths <= STEP_SURFACE_MAX_CHANNELS
    if steps:  # each channel a flat strip across its cell (see surface_step_vertices)
        columns, edge_index, ranges = surface_step_vertices(shown.n_wavelengths, data.spans)
        x = _f32(data.edges[edge_index])
    else:
        columns, ranges = surface_vertex_columns(shown.n_wavelengths, data.spans)
        x = _f32(shown.wavelength[columns])
    # A step's vertex sits on a cell's edge: its hover names the channel's centre, kept beside the error.
    hover = STEP_HOVER_FIELDS if steps else HOVER_FIELDS
    traces = []
    for visit in _visit_maps(cube, data, panels=False, hover=hover):
        # Plotly.js looks up a surface's customdata as customdata[x index][y index],
        # the transpose of z (see the gl3d scene hover), hence error.T.
        error = visit.error[:, columns].T
        if steps:
            centre = np.broadcast_to(shown.wavelength[columns][:, None], error.shape)
            customdata = np.stack([error, centre], axis=-1).tolist()
        else:
            customdata = _f32(error)
        traces.append(go.Surface(**visit.trace(data, x, visit.drawn_rows.centres, columns, ranges),
                                 customdata=customdata,
                                 lighting={"ambient": 0.85, "diffuse": 0.3, "specular": 0.05, "roughness": 0.9},
                                 showlegend=False))
    fig = go.Figure(data=traces)
    time_axis = cube.time_axis()
    fig.add_annotation(text=f"t0 = {time_axis.t0_text}", name="t0", xref="paper", yref="paper", x=0.0, y=0.0,
                       xanchor="left", yanchor="bottom", showarrow=False, font={"size": 11, "color": "#555"})
    fig.update_layout(**_map_layout(cube, data, title, "surface", {"l": 10, "r": 10, "t": 50, "b": 10}, panels=False))
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
            # The full title, with t0, ran past the scene's edge ("e since t0 (h); …"): t0 goes in a note.
            "yaxis": {**time_axis.axis_layout(title=False), "title": {"text": time_axis.short_title}},
            "zaxis": zaxis,
            "aspectmode": "manual",
            "aspectratio": {"x": 1.5, "y": 1.5, "z": 0.7},
            # Looking at a point below the box's centre, from a little further away: from
            # (1.6, −1.6, 0.9) at the centre, the box's front corner ran off the graph's bottom edge
            # (the last wavelength and the first time tick cut away) under an empty top.
            "camera": {"eye": {"x": 1.75, "y": -1.75, "z": 1.0}, "center": {"x": 0, "y": 0, "z": -0.2}},
            "uirevision": "stamp",
        }
    )
    why_flat = _no_surface_reason(shown)
    if why_flat:  # plotly draws an empty box for a grid one vertex wide: say why instead of leaving it blank
        fig.add_annotation(text=why_flat, name="no-surface", xref="paper", yref="paper", x=0.5, y=0.5,
                           showarrow=False, font={"size": 14})
    return fig


def _no_surface_reason(shown: Cube) -> str | None:
    """Why a surface cannot be drawn from the displayed cube (fewer than 2 wavelengths or integrations), or None."""
    if shown.n_wavelengths < 2:
        return (f"{shown.n_wavelengths} wavelength channel: a surface needs at least two.<br>"
                "The light curves and the heatmap show this cube.")
    if shown.n_integrations < 2:
        return (f"{shown.n_integrations} integration: a surface needs at least two.<br>"
                "The spectrum and the heatmap show this cube.")
    return None
