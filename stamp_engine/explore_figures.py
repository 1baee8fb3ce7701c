"""Linked exploration: the spectrum and the light curve through one point of the map.

Clicking the heatmap or the 3D surface at (λ, t) shows, beside it, the spectrum of the
row at t and the light curve of the column at λ, each with crosshair lines through the
clicked point.  The browser draws both (``assets/stamp_explore.js``) from one payload of
the display-resolution cube sent once per result (:func:`explore_payload`), so a click
never asks the server; this module builds that payload and the two empty panel figures
(axes, labels, trace styles) the browser fills.

Panel figures (``layout.meta.stamp_figure`` = ``"explore-spectrum"`` / ``"explore-light-curve"``):
trace 0 the ±1σ ribbon (meta role ``"error-ribbon"``), trace 1 the data line (meta role
``"spectrum"`` — so :mod:`stamp_engine.web` band shading applies — or ``"light-curve"``),
trace 2 the band's light curve (light-curve panel only, filled while a band is highlighted);
the crosshair is two layout shapes named :data:`CROSSHAIR_SHAPE` in :data:`CROSSHAIR_COLOUR`.
"""

from __future__ import annotations

import base64

import numpy as np
import plotly.graph_objects as go

from .cube import Cube
from .figures.common import _TEMPLATE, SPECTRUM_BAND_FILL, WAVELENGTH_LABEL, _display_name, _value_name_and_unit
from .figures.map_overlays import interpolated_rows
from .figures.spectrum import _y_range
from .timeaxis import TimeAxis, time_gaps

__all__ = [
    "BAND_CURVE_COLOUR",
    "CROSSHAIR_COLOUR",
    "CROSSHAIR_SHAPE",
    "DATA_COLOUR",
    "explore_payload",
    "point_light_curve_figure",
    "point_spectrum_figure",
]

#: Line colour of the spectrum / light curve through the clicked point.
DATA_COLOUR = "rgb(31,119,180)"
DATA_RIBBON = SPECTRUM_BAND_FILL
#: The highlighted band's light curve in the light-curve panel.
BAND_CURVE_COLOUR = "rgb(44,160,44)"
#: Crosshair lines through the clicked point: a colour no data trace or band shade uses.
CROSSHAIR_COLOUR = "rgb(204,0,204)"
CROSSHAIR_SHAPE = "stamp-explore-crosshair"


def _b64(values: np.ndarray, dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype=dtype).tobytes()).decode("ascii")


def explore_payload(display: Cube) -> dict:
    """What the browser needs to draw any point's spectrum and light curve, sent once.

    Parameters
    ----------
    display : Cube
        The display-resolution cube the heatmap and surface show (values unstretched:
        variability % when normalized, else flux).

    Returns
    -------
    dict
        ``n_time``, ``n_wave``; ``wavelength`` (µm) and ``hours`` (since t0) as base64
        little-endian float64; ``value`` and ``error`` (time-major, ``n_time × n_wave``)
        as base64 float32 (NaN where there are no data); ``visit`` per row; ``breaks``:
        rows after which the time axis has a gap (no line is drawn across);
        ``interpolated``: rows made by ``interpolate_gaps`` (their error is not shown);
        ``value_name``, ``unit``, ``time_label``, ``target`` for labels; ``time_axis``: the
        display unit of time (:meth:`stamp_engine.timeaxis.TimeAxis.meta`), which the light-curve
        panel draws in.
    """
    name, unit = _value_name_and_unit(display)
    hours = np.asarray(display.hours, dtype=float)
    error = np.where(interpolated_rows(display)[:, None], np.nan, display.error)
    return {
        "n_time": int(display.n_integrations),
        "n_wave": int(display.n_wavelengths),
        "wavelength": _b64(display.wavelength, "<f8"),
        "hours": _b64(hours, "<f8"),
        "value": _b64(display.flux, "<f4"),
        "error": _b64(error, "<f4"),
        "visit": [int(v) for v in display.visit],
        "breaks": [int(i) for i in np.flatnonzero(time_gaps(hours, display.visit))],
        "interpolated": [int(i) for i in np.flatnonzero(interpolated_rows(display))],
        "value_name": name,
        "unit": unit,
        "time_label": display.time_axis().title,
        "time_axis": display.time_axis().meta(),
        "target": _display_name(display),
    }


def _value_axis_label(display: Cube) -> str:
    name, unit = _value_name_and_unit(display)
    return f"{name} ({unit})" if unit else name


def _panel(kind: str, title: str, x_label: str, y_label: str, line_role: str, line_name: str, unit: str,
           y_range: tuple[float, float] | None = None, axis: TimeAxis | None = None) -> go.Figure:
    unit_text = f" {unit}" if unit else ""
    x_hover = "λ = %{x:.4f} µm" if axis is None else axis.hover("x")
    traces = [
        go.Scatter(x=[], y=[], fill="toself", fillcolor=DATA_RIBBON, line={"width": 0, "color": "rgba(0,0,0,0)"},
                   hoverinfo="skip", name="±1σ", showlegend=False, meta={"role": "error-ribbon"}),
        go.Scatter(x=[], y=[], customdata=[], mode="lines", line={"width": 1.8, "color": DATA_COLOUR},
                   connectgaps=False, name=line_name, meta={"role": line_role},
                   hovertemplate=(f"{x_hover}<br>%{{y:.4g}}{unit_text} ± %{{customdata:.3g}}{unit_text}"
                                  f"<extra></extra>")),
    ]
    if kind == "explore-light-curve":
        traces.append(go.Scatter(x=[], y=[], mode="lines", line={"width": 1.5, "color": BAND_CURVE_COLOUR},
                                 connectgaps=False, name="band", visible=False, meta={"role": "band-curve"},
                                 hovertemplate=f"{x_hover}<br>%{{y:.4g}}{unit_text}<extra>band</extra>"))
    fig = go.Figure(traces)
    fig.update_layout(
        template=_TEMPLATE,
        title={"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 13}},
        xaxis={**(axis.axis_layout(title=False) if axis is not None else {}), "title": {"text": x_label}, "showspikes": False},
        yaxis={"title": {"text": y_label}, **({"range": list(y_range)} if y_range is not None else {})},
        legend={"orientation": "h", "y": -0.3},
        margin={"l": 65, "r": 15, "t": 40, "b": 55},
        hovermode="closest",
        dragmode="select",  # a box picks a band / wavelength range, or a time window (see the toggles)
        selectdirection="h",
        meta={"stamp_figure": kind, **({"time_axis": axis.meta()} if axis is not None else {})},
    )
    return fig


def point_spectrum_figure(display: Cube) -> go.Figure:
    """Empty spectrum-at-a-time panel for ``display`` (the browser fills it on a click).

    Its y range is the spectrum player's, one for every row (:func:`stamp_engine.figures.spectrum_frames`):
    robust over the good wavelengths, so the edges of a spectrum, where variability % of a
    faint reference runs to hundreds, do not flatten the rest.
    """
    _, unit = _value_name_and_unit(display)
    y_range = _y_range(display.flux, symmetric=display.is_normalized) if display.n_integrations else None
    return _panel("explore-spectrum", f"{_display_name(display)} — spectrum at the clicked time",
                  WAVELENGTH_LABEL, _value_axis_label(display), "spectrum", "spectrum", unit, y_range)


def point_light_curve_figure(display: Cube) -> go.Figure:
    """Empty light-curve-at-a-wavelength panel for ``display`` (the browser fills it on a click)."""
    _, unit = _value_name_and_unit(display)
    axis = display.time_axis()
    return _panel("explore-light-curve", f"{_display_name(display)} — light curve at the clicked wavelength",
                  axis.title, _value_axis_label(display), "light-curve", "light curve", unit, axis=axis)
