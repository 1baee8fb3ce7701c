"""Light curves (white light and bands) with ±1σ ribbons, block-averaged, broken at time gaps."""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Sequence

import astropy.units as u
import numpy as np
import plotly.colors as pcolors
import plotly.graph_objects as go

from ..timeaxis import TimeAxis, curve_time_axis, time_gaps
from .common import _TEMPLATE, _f32, _rgba, error_band_polygons, plain_text

if TYPE_CHECKING:
    from ..steps.light_curves import LightCurve


#: Line colours of band light curves (white light is drawn in near-black).
_CURVE_COLOURS = pcolors.qualitative.D3
_WHITE_LIGHT_COLOUR = "#222222"


def _block_mean(values: np.ndarray, errors: np.ndarray, hours: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Means of consecutive blocks of ``factor`` points (NaN-aware) with propagated errors.

    ``values`` and ``errors`` are (n,) or (n, k) (k curves on one time axis, averaged along
    the first axis); ``hours`` is (n,).
    """
    n_blocks = math.ceil(values.shape[0] / factor)
    pad = n_blocks * factor - values.shape[0]

    def blocks(a: np.ndarray) -> np.ndarray:
        padded = np.concatenate([a, np.full((pad, *a.shape[1:]), np.nan)])
        return padded.reshape(n_blocks, factor, *a.shape[1:])

    v, e, h = blocks(values), blocks(errors), blocks(hours)
    good = np.isfinite(v) & np.isfinite(e)
    count = good.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(good, v, 0.0).sum(axis=1) / count
        error = np.sqrt(np.where(good, e * e, 0.0).sum(axis=1)) / count
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        centre = np.nanmean(h, axis=1)
    return centre, np.where(count > 0, mean, np.nan), np.where(count > 0, error, np.nan)


def _curve_segments(curve: "LightCurve", max_points: int,
                    axis: TimeAxis | None = None) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, bool]]:
    """(time, value, error, interpolated) per run of the curve, block-averaged to at most ~``max_points`` points;
    time in ``axis``'s unit (hours without one).

    A run ends at a change of visit, at a time gap (:func:`stamp_engine.timeaxis.time_gaps`)
    and where points switch between measured and interpolated, so no line is drawn
    across a gap and interpolated points are drawn apart.
    """
    hours = np.asarray(curve.hours, dtype=float)
    value = np.asarray(curve.value, dtype=float)
    error = np.asarray(curve.error, dtype=float)
    visit = np.broadcast_to(np.asarray(curve.visit if curve.visit is not None else 0), hours.shape)
    made = np.zeros(hours.shape, dtype=bool) if curve.interpolated is None else np.asarray(curve.interpolated, dtype=bool)
    factor = max(1, math.ceil(hours.size / max_points))
    breaks = time_gaps(hours, visit) | (made[1:] != made[:-1])
    bounds = np.concatenate([[0], np.flatnonzero(breaks) + 1, [hours.size]]) if hours.size else np.zeros(1, dtype=int)
    segments = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        h, val, err = hours[a:b], value[a:b], error[a:b]
        if factor > 1:
            h, val, err = _block_mean(val, err, h, factor)
        segments.append((h if axis is None else axis.values(h), val, err, bool(made[a])))
    return segments


def _interpolated_curve_trace(name: str, colour: str, unit_text: str, parts, group: str, axis: TimeAxis) -> go.Scatter:
    """Interpolated stretches of a light curve: dotted and lighter, no error ribbon, no error in hover."""
    return go.Scatter(
        x=_f32(_join_with_gaps([p[0] for p in parts])),
        y=_f32(_join_with_gaps([p[1] for p in parts])),
        mode="lines",
        line={"width": 1.2, "color": _rgba(colour, 0.45), "dash": "dot"},
        connectgaps=False,
        legendgroup=group,
        showlegend=False,
        name=f"{name} (interpolated)",
        hovertemplate=f"{axis.hover('x')}<br>%{{y:.4g}}{unit_text} (interpolated, no error)<extra>{name}</extra>",
        meta={"role": "interpolated", "curve": name},
    )


def _join_with_gaps(parts: Sequence[np.ndarray]) -> np.ndarray:
    """Concatenate with a NaN between parts: Plotly breaks the line there."""
    out: list[np.ndarray] = []
    for i, part in enumerate(parts):
        if i:
            out.append(np.array([np.nan]))
        out.append(part)
    return np.concatenate(out) if out else np.empty(0)


def _curve_unit_label(curve: "LightCurve") -> tuple[str, str]:
    unit = u.Unit(curve.unit) if curve.unit is not None else u.dimensionless_unscaled
    if unit == u.percent:
        return "Variability (%)", "%"
    text = "" if unit == u.dimensionless_unscaled else unit.to_string()
    return (f"Flux ({text})" if text else "Flux"), text


def light_curve_figure(
    curves: Sequence["LightCurve"],
    title: str | None = None,
    time_label: str | None = None,
    *,
    max_points: int = 4000,
) -> go.Figure:
    """Light curves (white light first, then bands), each with a ±1σ error ribbon.

    Parameters
    ----------
    curves : sequence of LightCurve
        From :func:`stamp_engine.steps.light_curves.white_light_curve` / ``band_light_curve``.
    title : str, optional
    time_label : str, optional
        x-axis title instead of the time axis's own. Time is drawn in the unit of
        :func:`stamp_engine.timeaxis.curve_time_axis` of the first curve (seconds to days by
        the span), whose title names the unit and prints t0 in the curves' time standard
        (their ``time_standard``, else BJD_TDB for TDB times, MJD_UTC for UTC).
    max_points : int
        Longer curves are block-averaged (within each visit, errors propagated) to
        at most about this many points, keeping the figure small.

    Returns
    -------
    plotly.graph_objects.Figure
        Per curve a ``fill="toself"`` ribbon trace (meta role "error-ribbon") and a
        line trace (meta role "light-curve") of the measured points; visits and time
        gaps longer than a few cadences (:func:`stamp_engine.timeaxis.time_gaps`) are
        separated by NaN breaks, so no line or ribbon bridges a gap.  Points made by
        ``interpolate_gaps`` form a dotted, lighter trace (meta role "interpolated")
        without ribbon or error.
    """
    fig = go.Figure()
    y_label, _ = _curve_unit_label(curves[0]) if curves else ("Variability (%)", "%")
    axis = curve_time_axis(curves[0]) if curves else None
    for i, curve in enumerate(curves):
        colour = _WHITE_LIGHT_COLOUR if i == 0 else _CURVE_COLOURS[(i - 1) % len(_CURVE_COLOURS)]
        _, unit = _curve_unit_label(curve)
        all_segments = _curve_segments(curve, max_points, axis)
        segments = [s[:3] for s in all_segments if not s[3]]
        filled = [s[:3] for s in all_segments if s[3]]
        # one polygon per run of finite points: the band has a gap wherever the line has one
        ribbon_parts = [p for p in (error_band_polygons(h, val, err) for h, val, err in segments) if p[0].size]
        group = f"curve-{i}"
        fig.add_trace(
            go.Scatter(
                x=_f32(_join_with_gaps([p[0] for p in ribbon_parts])),
                y=_f32(_join_with_gaps([p[1] for p in ribbon_parts])),
                mode="lines",
                fill="toself",
                fillcolor=_rgba(colour, 0.2),
                line={"width": 0, "color": _rgba(colour, 0.0)},
                hoverinfo="skip",
                showlegend=False,
                legendgroup=group,
                name=f"{plain_text(curve.name)} ±1σ",
                meta={"role": "error-ribbon", "curve": curve.name},
            )
        )
        unit_text = f" {unit}" if unit else ""
        fig.add_trace(
            go.Scatter(
                x=_f32(_join_with_gaps([s[0] for s in segments])),
                y=_f32(_join_with_gaps([s[1] for s in segments])),
                customdata=_f32(_join_with_gaps([s[2] for s in segments])),
                mode="lines",
                line={"width": 1.5, "color": colour},
                connectgaps=False,
                legendgroup=group,
                name=plain_text(curve.name),
                hovertemplate=(f"{axis.hover('x')}<br>%{{y:.4g}}{unit_text} ± %{{customdata:.3g}}{unit_text}"
                               f"<extra>{plain_text(curve.name)}</extra>"),
                meta={"role": "light-curve", "curve": curve.name},
            )
        )
        if filled:
            fig.add_trace(_interpolated_curve_trace(curve.name, colour, unit_text, filled, group, axis))
    if time_label is None:
        time_label = axis.title if axis is not None else "Time since t0"
    fig.update_layout(
        template=_TEMPLATE,
        title={"text": title or "Light curves"},
        xaxis={**(axis.axis_layout() if axis is not None else {}), "title": {"text": time_label}},
        yaxis={"title": {"text": y_label}},
        hovermode="closest",
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 70, "r": 20, "t": 50, "b": 60},
        uirevision="stamp",
        meta={"time_axis": axis.meta()} if axis is not None else {},
    )
    return fig
