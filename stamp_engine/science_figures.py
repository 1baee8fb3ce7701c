"""Plotly figures of the science products: spectroscopic light curves, transmission /
emission spectrum, Lomb–Scargle periodograms and the amplitude spectrum.

Plain functions of the engine's products (:mod:`stamp_engine.channels`,
:mod:`stamp_engine.spectra`, :mod:`stamp_engine.periodogram`), usable from a notebook::

    from stamp_engine import science_figures
    science_figures.depth_spectrum_figure(cube.transmission_spectrum((4, 6), [(0, 3), (7, 10)], R=30)).show()

The dashboard's science panels draw the same figures.  Every trace carries ``meta``
with its ``role`` ("channel-curve", "depth", "periodogram", "peak", "false-alarm-level",
"amplitude", "phase"), so tests and scripts can find what is drawn; bands are drawn as
shaded wavelength ranges in the colours the light-curve view gives them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import astropy.units as u
import numpy as np
import plotly.colors as pcolors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .bands import Band
from .channels import stacking_spacing
from .figures.common import _TEMPLATE, WAVELENGTH_LABEL, _f32, _rgba, plain_text
from .figures.light_curves import _CURVE_COLOURS, _WHITE_LIGHT_COLOUR, _block_mean
from .timeaxis import curve_time_axis, display_time_unit, time_gaps
from .windows import windows_text

if TYPE_CHECKING:
    from .channels import ChannelLightCurves
    from .periodogram import Periodogram
    from .spectra import AmplitudeSpectrum, TransmissionSpectrum

__all__ = [
    "DEPTH_UNITS", "MAX_STACKED_CHANNELS", "amplitude_not_drawn_figure", "amplitude_spectrum_figure", "band_colour",
    "channel_light_curves_figure", "depth_spectrum_figure", "log_period_ticks", "periodogram_figure", "probability_text",
]

#: Most channels an offset-stacked plot draws: more are unreadable lines (and a large figure).
MAX_STACKED_CHANNELS = 80
#: Most points per channel drawn by default (more are averaged in time for display).
MAX_CURVE_POINTS = 1500
#: Units a depth is shown in: name → astropy unit.
DEPTH_UNITS = {"ppm": u.Unit(1e-6), "%": u.percent}
#: Channel colours run along this scale with wavelength (blue → red), as rainbow plots do.
CHANNEL_COLOURSCALE = "Turbo"
#: Most points of one periodogram sent to the browser (peaks are kept when thinned).
MAX_PERIODOGRAM_POINTS = 4000
#: A depth or amplitude whose error exceeds this many times the median error does not set the y range
#: (the faint ends of a PRISM spectrum: ±10⁵ ppm bars flatten a 10³ ppm feature).
NOISY_CHANNEL_ERRORS = 5.0
_MARGIN = {"l": 80, "r": 20, "t": 60, "b": 60}


def band_colour(index: int) -> str:
    """Colour of the ``index``-th band (from 0): the one its light curve has in the light-curve view."""
    return _CURVE_COLOURS[index % len(_CURVE_COLOURS)]


def _wavelength_colours(wavelength: np.ndarray) -> list[str]:
    lo, hi = float(np.nanmin(wavelength)), float(np.nanmax(wavelength))
    position = (wavelength - lo) / (hi - lo) if hi > lo else np.full(wavelength.shape, 0.5)
    # 0.05–0.95: the scale's ends are near black and dark red, hard to tell apart on white
    return pcolors.sample_colorscale(CHANNEL_COLOURSCALE, list(0.05 + 0.9 * position))


def _unit_text(unit: u.UnitBase) -> str:
    return "%" if unit == u.percent else (unit.to_string() or "relative flux")


def _band_shapes(bands: Sequence[Band], lo: float, hi: float) -> tuple[list[dict], list[dict]]:
    """Shaded ranges (layout shapes, behind the data) and name labels of the bands overlapping ``lo``–``hi`` µm."""
    shapes, labels = [], []
    for i, band in enumerate(bands):
        if band.end <= lo or band.start >= hi:
            continue
        colour = band_colour(i)
        shapes.append({
            "type": "rect", "xref": "x", "yref": "paper", "x0": band.start, "x1": band.end, "y0": 0, "y1": 1,
            "fillcolor": _rgba(colour, 0.18), "line": {"width": 0}, "layer": "below", "name": f"band {band.name}",
        })
        labels.append({
            "x": 0.5 * (band.start + band.end), "y": 1.0, "xref": "x", "yref": "paper", "yanchor": "bottom",
            "text": plain_text(band.name), "showarrow": False, "font": {"size": 10, "color": colour},
        })
    return shapes, labels


# ---------------------------------------------------------- spectroscopic light curves
def channel_light_curves_figure(
    curves: "ChannelLightCurves",
    *,
    bin_time: int | None = None,
    spacing: float | None = None,
    title: str | None = None,
    max_channels: int = MAX_STACKED_CHANNELS,
) -> go.Figure:
    """Offset-stacked light curves of the channels, bluest at the top.

    Parameters
    ----------
    curves : ChannelLightCurves
        From :func:`~stamp_engine.channels.spectroscopic_light_curves` (or
        :func:`~stamp_engine.channels.divide_by_white` for residuals).
    bin_time : int, optional
        Display binning: consecutive integrations averaged per point (within each
        visit and between time gaps; NaN-aware, errors propagated).  1 = none; by
        default enough to draw at most :data:`MAX_CURVE_POINTS` points per channel.
    spacing : float, optional
        Offset between neighbouring channels in the curves' unit; default
        :func:`~stamp_engine.channels.stacking_spacing` of the curves as drawn (binned): neighbouring
        curves never reach into each other, however noisy one of them is.
    max_channels : int
        More channels than this raise (an unreadable plot).

    Returns
    -------
    plotly.graph_objects.Figure
        One line per channel (meta role "channel-curve", with its ``wavelength`` and
        ``offset``), each centred on its median over time and moved down by its offset;
        the y axis is labelled with the channel centres at the offsets, and the hover
        gives the value relative to the channel median and its error.

    Raises
    ------
    ValueError
        More than ``max_channels`` channels, or ``bin_time`` < 1.
    """
    if curves.n_channels > max_channels:
        raise ValueError(f"{curves.n_channels} channels are too many to stack (at most {max_channels}): "
                         "choose wider channels, a lower R or fewer channels")
    if bin_time is None:
        bin_time = max(1, int(np.ceil(curves.n_integrations / MAX_CURVE_POINTS)))
    if int(bin_time) != bin_time or bin_time < 1:
        raise ValueError(f"the display binning must be a whole number of integrations ≥ 1, not {bin_time!r}")
    bin_time = int(bin_time)
    centred = curves.centred()
    hours = np.asarray(curves.hours, dtype=float)
    error = np.asarray(curves.error, dtype=float)
    # runs between visits and time gaps: binned apart, joined by a NaN row so no line bridges a gap
    breaks = np.flatnonzero(time_gaps(hours, curves.visit)) + 1
    parts_h, parts_v, parts_e = [], [], []
    for rows in np.split(np.arange(hours.size), breaks):
        h, v, e = hours[rows], centred[rows], error[rows]
        if bin_time > 1:
            h, v, e = _block_mean(v, e, h, bin_time)
        parts_h += [h, [np.nan]]
        parts_v += [v, np.full((1, curves.n_channels), np.nan)]
        parts_e += [e, np.full((1, curves.n_channels), np.nan)]
    axis = curve_time_axis(curves)
    x = _f32(axis.values(np.concatenate(parts_h[:-1])))
    drawn = np.concatenate(parts_v[:-1])
    e = np.concatenate(parts_e[:-1])
    # spaced by the curves as drawn (binning lowers their scatter), then moved down one offset each
    step = float(spacing) if spacing is not None else stacking_spacing(drawn)
    offsets = -step * np.arange(curves.n_channels)
    y = drawn + offsets[None, :]
    unit = _unit_text(curves.unit)
    colours = _wavelength_colours(curves.wavelength)
    fig = go.Figure()
    for i in range(curves.n_channels):
        lo, hi = curves.edges[i]
        name = f"{curves.wavelength[i]:.3f} µm"
        fig.add_trace(go.Scatter(
            x=x, y=_f32(y[:, i]), customdata=_f32(np.column_stack([y[:, i] - offsets[i], e[:, i]])),
            mode="lines", line={"width": 1.3, "color": colours[i]}, connectgaps=False, name=name,
            hovertemplate=(f"{lo:.3f}–{hi:.3f} µm<br>{axis.hover('x')}<br>%{{customdata[0]:.4g}} ± "
                           f"%{{customdata[1]:.3g}} {unit} (from the channel median)<extra></extra>"),
            meta={"role": "channel-curve", "wavelength": float(curves.wavelength[i]), "offset": float(offsets[i])},
        ))
    residuals = bool(curves.binning.get("divided_by_white"))
    what = "Spectroscopic residuals (channel ÷ white light)" if residuals else "Spectroscopic light curves"
    binned = f", {bin_time} integrations per point" if bin_time > 1 else ""
    tick_every = max(1, int(np.ceil(curves.n_channels / 25)))  # at most ~25 labels
    fig.update_layout(
        template=_TEMPLATE,
        title={"text": title or f"{what}: {curves.n_channels} channels{binned}"},
        xaxis=axis.axis_layout(),
        meta={"time_axis": axis.meta()},
        yaxis={"title": {"text": f"{'Residual' if residuals else 'Value'} − channel median ({unit}), "
                                 f"channels {step:.3g} {unit} apart"},
               "tickvals": list(offsets[::tick_every]), "ticktext": [f"{w:.3f} µm" for w in curves.wavelength[::tick_every]],
               "zeroline": False},
        showlegend=False, hovermode="closest", margin=_MARGIN, uirevision="stamp-channels",
    )
    return fig


# -------------------------------------------------------------- depth spectrum
def depth_spectrum_figure(
    spectrum: "TransmissionSpectrum", *, unit: str = "ppm", bands: Sequence[Band] = (), title: str | None = None,
) -> go.Figure:
    """Transit or eclipse depth vs wavelength with 1-σ error bars; bands shaded behind.

    Parameters
    ----------
    spectrum : TransmissionSpectrum
    unit : {"ppm", "%"}
    bands : sequence of Band
        Drawn as shaded wavelength ranges with their names.

    Returns
    -------
    plotly.graph_objects.Figure
        One trace (meta role "depth"): markers at the channel centres, vertical error
        bars of the depth's 1-σ error and horizontal bars of the channel's half width.
        Channels without a depth (no usable value in a window) are said in the title, as
        are channels whose errors are over :data:`NOISY_CHANNEL_ERRORS` × the median: the y
        range is set by the others (their bars run off the axis).
    """
    if unit not in DEPTH_UNITS:
        raise ValueError(f"depth unit must be one of {', '.join(DEPTH_UNITS)}, not {unit!r}")
    depth = spectrum.depth.to_value(DEPTH_UNITS[unit])
    error = spectrum.error.to_value(DEPTH_UNITS[unit])
    half_width = 0.5 * (spectrum.edges[:, 1] - spectrum.edges[:, 0])
    kind = "Transit" if spectrum.kind == "transit" else "Eclipse"
    missing = int(np.count_nonzero(~np.isfinite(depth)))
    fig = go.Figure(go.Scatter(
        x=_f32(spectrum.wavelength), y=_f32(depth), mode="markers",
        marker={"size": 6, "color": _WHITE_LIGHT_COLOUR},
        error_y={"type": "data", "array": _f32(error), "visible": True, "thickness": 1.2, "width": 0,
                 "color": _WHITE_LIGHT_COLOUR},
        error_x={"type": "data", "array": _f32(half_width), "visible": True, "thickness": 0.8, "width": 0,
                 "color": _rgba(_WHITE_LIGHT_COLOUR, 0.45)},
        customdata=_f32(np.column_stack([spectrum.edges, error])),
        hovertemplate=(f"%{{customdata[0]:.4f}}–%{{customdata[1]:.4f}} µm<br>depth %{{y:.5g}} ± "
                       f"%{{customdata[2]:.3g}} {unit}<extra></extra>"),
        name=f"{kind.lower()} depth", meta={"role": "depth", "unit": unit},
    ))
    shapes, labels = _band_shapes(bands, float(spectrum.edges[0, 0]), float(spectrum.edges[-1, 1]))
    # 4 digits: 0.001 h is 3.6 s, below any cadence; the exact windows are in the spectrum and its history
    windows = (f"in {'transit' if spectrum.kind == 'transit' else 'eclipse'} "
               f"{windows_text(spectrum.in_transit_hours, digits=4)}, baseline {windows_text(spectrum.baseline_hours, digits=4)}")
    y_range, noisy = _typical_range(depth, error)
    note = f"; {missing} channel(s) without a depth" if missing else ""
    if noisy:
        note += f"; {noisy} channel(s) with errors > {NOISY_CHANNEL_ERRORS:g}× the median run off the axis"
    formula = "1 − F_in/F_out" if spectrum.kind == "transit" else "F_out/F_in − 1"
    fig.update_layout(
        template=_TEMPLATE,
        title={"text": title or f"{kind} spectrum ({formula}): {windows}{note}", "font": {"size": 14}},
        xaxis={"title": {"text": WAVELENGTH_LABEL}},
        # "30,000" ppm, not Plotly's SI "30k" (a k before ppm reads as a unit)
        yaxis={"title": {"text": f"{kind} depth ({unit})"}, "exponentformat": "none", "separatethousands": True,
               **({"range": list(y_range)} if y_range else {})},
        shapes=shapes, annotations=labels, showlegend=False, hovermode="closest", margin=_MARGIN,
        uirevision="stamp-depth",
    )
    return fig


def _typical_range(depth: np.ndarray, error: np.ndarray) -> tuple[tuple[float, float] | None, int]:
    """A y range holding every value ± error but those of channels with errors over
    :data:`NOISY_CHANNEL_ERRORS` × the median (None when nothing is left out), and how many are."""
    usable = np.isfinite(depth) & np.isfinite(error)
    if not usable.any():
        return None, 0
    typical = usable & (error <= NOISY_CHANNEL_ERRORS * np.median(error[usable]))
    low, high = float(np.min((depth - error)[typical])), float(np.max((depth + error)[typical]))
    noisy = usable & ~typical
    beyond = noisy & ((depth - error < low) | (depth + error > high))
    if not beyond.any():
        return None, 0
    pad = 0.08 * (high - low) if high > low else max(abs(high), 1.0) * 0.1
    return (low - pad, high + pad), int(np.count_nonzero(noisy))


# -------------------------------------------------------------- periodograms
def _thinned(period: np.ndarray, power: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ~``max_points`` points, keeping the highest of each block (peaks survive thinning)."""
    if power.size <= max_points:
        return period, power
    factor = int(np.ceil(power.size / max_points))
    n_blocks = power.size // factor
    blocks = power[: n_blocks * factor].reshape(n_blocks, factor)
    best = blocks.argmax(axis=1) + factor * np.arange(n_blocks)
    keep = np.concatenate([best, np.arange(n_blocks * factor, power.size)])
    return period[keep], power[keep]


def probability_text(probability: float) -> str:
    """A false-alarm probability as text: ``"3.2e-05"``; below what a float holds, ``"< 1e-300"`` (not "0")."""
    return "< 1e-300" if probability < 1e-300 else f"{probability:.2g}"


def log_period_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Ticks at 1, 2, 5 × 10ⁿ over ``lo``–``hi`` (> 0), each labelled in full ("0.02", not a lone "2"
    that reads as 2 h); a range within one 1-2-5 step gets its ends too."""
    decades = np.arange(np.floor(np.log10(lo)), np.ceil(np.log10(hi)) + 1)
    values = (np.array([1.0, 2.0, 5.0])[None, :] * 10.0 ** decades[:, None]).ravel()
    values = values[(values >= lo * (1 - 1e-9)) & (values <= hi * (1 + 1e-9))]
    if values.size < 2:
        values = np.unique(np.concatenate([values, [float(f"{lo:.2g}"), float(f"{hi:.2g}")]]))
    return [float(v) for v in values], [f"{v:.3g}" for v in values]


def periodogram_figure(
    periodograms: Sequence["Periodogram"], *, title: str | None = None, max_points: int = MAX_PERIODOGRAM_POINTS,
) -> go.Figure:
    """Lomb–Scargle power vs period (log axis), the white light first, then the bands.

    Returns
    -------
    plotly.graph_objects.Figure
        Per periodogram: the power (meta role "periodogram"), its false-alarm level as a
        dashed line over the searched periods (role "false-alarm-level") and its peak as
        a diamond (role "peak"), all in the curve's colour (white light black, bands as
        in the light-curve view); names give the peak period and its false-alarm probability.
        A peak the data do not resolve (:attr:`~stamp_engine.periodogram.Periodogram.unresolved_reason`)
        is an open grey-edged diamond (meta ``resolved`` False), "not resolved" in the legend, and
        the title says why for the white light.  The log period axis is labelled at 1-2-5 steps in full,
        in the unit of the longest period searched (:func:`stamp_engine.timeaxis.display_time_unit`:
        minutes for a 2.4 min series; ``layout.meta["period_unit"]``), the meta keeping hours.
    """
    fig = go.Figure()
    longest = max((float(g.maximum_period.to_value(u.hour)) for g in periodograms), default=1.0)
    unit = display_time_unit(longest)
    per_hour, unit_name = float(u.h.to(unit)), unit.to_string()
    # the white light last, so it is drawn on top (bands of one object often share its peak); legend in order
    for i, gram in reversed(list(enumerate(periodograms))):
        colour = _WHITE_LIGHT_COLOUR if i == 0 else band_colour(i - 1)
        name = plain_text(gram.name)
        period, power = _thinned(gram.period.to_value(unit), np.asarray(gram.power, dtype=float), max_points)
        peak_hours = float(gram.peak_period.to_value(u.hour))
        peak = peak_hours * per_hour
        group = f"gram-{i}"
        reason = gram.unresolved_reason
        fig.add_trace(go.Scatter(
            x=_f32(period), y=_f32(power), mode="lines", line={"width": 1.3, "color": colour}, legendgroup=group,
            legendrank=1000 + i, name=f"{name}: {peak:.4g} {unit_name}{'' if reason is None else ' (not resolved)'}",
            hovertext=f"peak {peak:.5g} {unit_name}, false-alarm probability {probability_text(gram.false_alarm_probability)}",
            hovertemplate=f"P = %{{x:.4g}} {unit_name}<br>power %{{y:.3f}}<br>%{{hovertext}}<extra>{name}</extra>",
            meta={"role": "periodogram", "curve": gram.name, "peak_period_hours": peak_hours},
        ))
        span = [float(gram.minimum_period.to_value(unit)), float(gram.maximum_period.to_value(unit))]
        fig.add_trace(go.Scatter(
            x=span, y=[gram.false_alarm_level] * 2, mode="lines", line={"width": 1, "color": colour, "dash": "dash"},
            legendgroup=group, showlegend=False, name=f"{name}: {100 * gram.false_alarm:g} % false-alarm level",
            hovertemplate=f"{100 * gram.false_alarm:g} % false-alarm level: power %{{y:.3f}}<extra>{name}</extra>",
            meta={"role": "false-alarm-level", "curve": gram.name, "false_alarm": gram.false_alarm},
        ))
        marker = ({"symbol": "diamond", "size": 10, "color": colour, "line": {"width": 1, "color": "white"}}
                  if reason is None else
                  {"symbol": "diamond-open", "size": 11, "color": colour, "line": {"width": 1.5, "color": colour}})
        fig.add_trace(go.Scatter(
            x=[peak], y=[gram.peak_power], mode="markers", marker=marker,
            legendgroup=group, showlegend=False, name=f"{name} peak",
            hovertemplate=(f"peak P = {peak:.5g} {unit_name}<br>power {gram.peak_power:.3f}<br>false-alarm probability "
                           f"{probability_text(gram.false_alarm_probability)}"
                           f"{'' if reason is None else '<br>' + reason}<extra>{name}</extra>"),
            meta={"role": "peak", "curve": gram.name, "resolved": reason is None},
        ))

    fal = f"; dashed: {100 * periodograms[0].false_alarm:g} % false-alarm level (Baluev)" if periodograms else ""
    white_reason = periodograms[0].unresolved_reason if periodograms else None
    if white_reason:
        fal += f"<br>{plain_text(periodograms[0].name)}: {white_reason}"
    axis: dict = {"title": {"text": f"Period ({unit_name}), searched from 2 cadences to the data span; "
                                    "peaks over half the span are not resolved"}, "type": "log"}
    if periodograms:
        lo = min(float(g.minimum_period.to_value(unit)) for g in periodograms)
        hi = max(float(g.maximum_period.to_value(unit)) for g in periodograms)
        tickvals, ticktext = log_period_ticks(lo, hi)
        axis.update(tickmode="array", tickvals=tickvals, ticktext=ticktext, minor={"showgrid": False, "ticks": ""})
    # legend entries name each curve and its peak period; their false-alarm probabilities are in the hover
    fig.update_layout(
        template=_TEMPLATE,
        title={"text": title or f"Lomb–Scargle periodograms (standard normalization){fal}", "font": {"size": 14}},
        xaxis=axis,
        yaxis={"title": {"text": "Lomb–Scargle power"}, "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.32, "yanchor": "top", "font": {"size": 11}, "title": {"text": "peak period:"}},
        hovermode="closest", margin={**_MARGIN, "b": 110}, uirevision="stamp-periodogram",
        meta={"period_unit": unit_name, "per_hour": per_hour},
    )
    return fig


# ----------------------------------------------------------- amplitude spectrum
def amplitude_not_drawn_figure(reason: str) -> go.Figure:
    """No amplitude spectrum, and why (an unresolved peak or one below the false-alarm level: a
    sinusoid fitted there gives degenerate amplitudes and phases)."""
    fig = go.Figure()
    fig.update_layout(
        template=_TEMPLATE, xaxis={"visible": False}, yaxis={"visible": False}, margin=_MARGIN,
        annotations=[{"text": f"No amplitude spectrum: {reason}.<br>Type a period to fit one anyway.",
                      "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5,
                      "font": {"size": 14, "color": "#6c757d"}}],
        meta={"role": "amplitude-not-drawn", "reason": reason},
    )
    return fig


def _t0_text(meta: dict) -> str:
    """``MJD 60200.25000 BJD_TDB``: the zero of the time the phase is measured at."""
    t0 = meta.get("t0_mjd")
    return f"MJD {t0:.5f} {meta.get('time_standard', '')}".rstrip() if isinstance(t0, (int, float)) else "the first integration"


def amplitude_spectrum_figure(
    amplitude: "AmplitudeSpectrum", *, bands: Sequence[Band] = (), title: str | None = None,
    warning: str | None = None,
) -> go.Figure:
    """Relative semi-amplitude (%) and phase (°) vs wavelength, with 1-σ error bars; bands shaded behind.

    Returns
    -------
    plotly.graph_objects.Figure
        Two rows sharing the wavelength axis: the amplitude divided by the channel's mean
        level (meta role "amplitude") and the phase φ of ``A sin(2π t/P + φ)`` at t0
        (role "phase"), in degrees.  Channels with errors over :data:`NOISY_CHANNEL_ERRORS` ×
        the median do not set the y ranges (their bars run off the axes; the title says how many).
        ``warning`` (e.g. the period typed is not resolved by the data) is added to the title.
    """
    relative = amplitude.relative_amplitude.to_value(u.percent)
    relative_error = amplitude.relative_amplitude_error.to_value(u.percent)
    phase = amplitude.phase.to_value(u.deg)
    phase_error = amplitude.phase_error.to_value(u.deg)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.62, 0.38])
    for row, (values, errors, role, label) in enumerate(
        [(relative, relative_error, "amplitude", "amplitude"), (phase, phase_error, "phase", "phase")], start=1,
    ):
        unit = "%" if role == "amplitude" else "°"
        fig.add_trace(go.Scatter(
            x=_f32(amplitude.wavelength), y=_f32(values), mode="markers",
            marker={"size": 6, "color": _WHITE_LIGHT_COLOUR},
            error_y={"type": "data", "array": _f32(errors), "visible": True, "thickness": 1.2, "width": 0,
                     "color": _WHITE_LIGHT_COLOUR},
            customdata=_f32(errors), name=label,
            hovertemplate=f"%{{x:.4f}} µm<br>{label} %{{y:.4g}} ± %{{customdata:.3g}} {unit}<extra></extra>",
            meta={"role": role},
        ), row=row, col=1)
    ranges = [_typical_range(relative, relative_error), _typical_range(phase, phase_error)]
    shapes, labels = _band_shapes(bands, float(amplitude.edges[0, 0]), float(amplitude.edges[-1, 1]))
    period = float(amplitude.period.to_value(u.hour))
    noisy = max(n for _, n in ranges)
    note = f"; {noisy} channel(s) with errors > {NOISY_CHANNEL_ERRORS:g}× the median run off the axes" if noisy else ""
    if warning:
        note += f"<br>Warning: {warning}"
    fig.update_layout(
        template=_TEMPLATE,
        title={"text": title or (f"Amplitude spectrum: A sin(2πt/P + φ) per channel, P = {period:.5g} h, "
                                 f"t in h since {_t0_text(amplitude.meta)}{note}"),
               "font": {"size": 14}},
        shapes=shapes, annotations=[*fig.layout.annotations, *labels], showlegend=False, hovermode="closest",
        margin=_MARGIN, uirevision="stamp-amplitude",
    )
    fig.update_yaxes(title_text="Relative semi-amplitude (%)", row=1, col=1)
    fig.update_yaxes(title_text="Phase at t0 (°)", row=2, col=1)
    for row, (y_range, _) in enumerate(ranges, start=1):
        if y_range is not None:
            fig.update_yaxes(range=list(y_range), row=row, col=1)
    fig.update_xaxes(title_text=WAVELENGTH_LABEL, row=2, col=1)
    return fig
