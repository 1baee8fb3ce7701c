"""The spectrum of one row with its ±1σ band, and the spectrum player (frames computed once,
animated in the browser or as Plotly frames in standalone pages)."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import astropy.units as u
import numpy as np
import plotly.graph_objects as go

from ..colour import robust_colour_limits
from ..cube import Cube
from ..noisy_channels import NoisyChannels, noisy_channels
from ..statistics import nanmedian_over_time
from .common import (
    _TEMPLATE,
    MAX_DISPLAY_WAVELENGTH,
    SPECTRUM_BAND_FILL,
    SPECTRUM_Y_PAD,
    WAVELENGTH_LABEL,
    _display_name,
    _f32,
    _padded,
    display_cube,
    error_band_polygons,
)
from .band_map import _cell_edges
from .map_overlays import NOISY_STRIP, noisy_channel_rects, noisy_key


def _reference_of_visit(cube: Cube, visit: int) -> np.ndarray:
    """Reference spectrum of one visit in the flux unit: the stored one when normalized,
    else the visit's median spectrum (all-NaN columns stay NaN)."""
    if cube.is_normalized:
        return np.asarray(cube.reference[min(visit, len(cube.reference) - 1)], dtype=float)
    return nanmedian_over_time(cube.flux, np.flatnonzero(cube.visit == visit))


def _visit_reference(cube: Cube) -> np.ndarray:
    """Reference spectrum per visit, (n_visits, n_wave), in the flux unit."""
    return np.vstack([_reference_of_visit(cube, v) for v in range(cube.n_visits)])


def _in_flux(cube: Cube, values: np.ndarray, errors: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """Rows of ``cube`` as flux ± error in the original unit, and that unit's text.

    ``reference`` is the visit reference of each row (broadcastable to ``values``); a
    normalized cube's variability % is turned back into flux with it.
    """
    if cube.is_normalized:
        flux = reference * (1.0 + values / 100.0)
        error = np.abs(reference) * errors / 100.0
        unit = cube.reference_unit
    else:
        flux, error, unit = values, errors, cube.flux_unit
    text = "" if unit is None or unit == u.dimensionless_unscaled else u.Unit(unit).to_string()
    return flux, error, text


#: What the spectrum player shows: variability in % of the visit's reference (1–3 % changes
#: visible, as in the MP4), or the flux beside that reference.
SPECTRUM_MODES: Mapping[str, str] = MappingProxyType({"variability": "Variability (%)", "flux": "Flux"})


@dataclass(frozen=True)
class SpectrumFrames:
    """The frames of the spectrum player, computed once and animated in the browser.

    Attributes
    ----------
    wavelength : ndarray, (n_wave,)
        µm.
    value, error : ndarray, (n_frames, n_wave)
        Variability (%) or flux per frame, float32.
    reference : ndarray, (n_visits, n_wave)
        The line drawn beside each frame: 0 % for variability, the visit's reference
        spectrum for flux.
    visit : ndarray of int, (n_frames,)
    labels : tuple of str
        One per frame, 1-based: "bin 3 of 600: integrations 9–12, 2.41–2.43 h".
    mode, unit, y_label : str
    y_range : (float, float) or None
        One y range for every frame, so a change from frame to frame shows as motion.
    target : str
    noisy : NoisyChannels or None
        The wavelengths flagged as noisy (:mod:`stamp_engine.noisy_channels`), marked above the plot.
    """

    wavelength: np.ndarray
    value: np.ndarray
    error: np.ndarray
    reference: np.ndarray
    visit: np.ndarray
    labels: tuple[str, ...]
    mode: str
    unit: str
    y_label: str
    y_range: tuple[float, float] | None
    target: str
    noisy: NoisyChannels | None = None

    @property
    def n_frames(self) -> int:
        return int(self.value.shape[0])

    def title(self, index: int) -> str:
        return f"{self.target} — {self.labels[index]}" if self.labels else self.target

    def to_browser(self) -> dict:
        """The frames for ``assets/stamp_dashboard.js``: float32 arrays as base64, sent once."""
        import base64

        def b64(values: np.ndarray) -> str:
            return base64.b64encode(_f32(values).tobytes()).decode("ascii")

        return {
            "n": self.n_frames, "w": int(self.wavelength.size), "value": b64(self.value), "error": b64(self.error),
            "reference": b64(self.reference), "wavelength": b64(self.wavelength), "visit": [int(v) for v in self.visit],
            "titles": [self.title(i) for i in range(self.n_frames)], "mode": self.mode,
        }


def frame_labels(cube: Cube) -> tuple[str, ...]:
    """One label per row of ``cube``, numbered from 1, saying which integrations and times it averages.

    "bin 3 of 600: integrations 9–12, 2.41–2.43 h" for a binned row (from
    :func:`stamp_engine.labels.row_spans`), "frame 3 of 600: integration 9, 2.41 h"
    for one integration, in the display unit of ``cube.time_axis()`` (seconds for a
    short series), with enough decimals to tell rows apart; the visit is named when
    there are several, and rows made by interpolation say so.
    """
    from ..labels import INTERPOLATED_KEY, row_spans

    n = cube.n_integrations
    if n == 0:
        return ()
    spans = row_spans(cube)
    first, last = spans[:, 0].astype(np.int64), spans[:, 1].astype(np.int64)
    axis = cube.time_axis()
    h0, h1 = axis.values((spans[:, 2] - cube.t0_mjd) * 24.0), axis.values((spans[:, 3] - cube.t0_mjd) * 24.0)
    digits, unit = max(axis.digits, 2), axis.unit_name
    flags = cube.meta.get(INTERPOLATED_KEY)
    interpolated = np.asarray(flags, dtype=bool) if flags is not None and np.shape(flags) == (n,) else np.zeros(n, bool)
    labels = []
    for i in range(n):  # text per frame: one short string each, not a numeric hot path
        if last[i] > first[i]:
            text = f"bin {i + 1} of {n}: integrations {first[i]}–{last[i]}, {h0[i]:.{digits}f}–{h1[i]:.{digits}f} {unit}"
        else:
            text = f"frame {i + 1} of {n}: integration {first[i]}, {h0[i]:.{digits}f} {unit}"
        if cube.n_visits > 1:
            text += f", visit {int(cube.visit[i]) + 1}"
        if interpolated[i]:
            text += " (interpolated)"
        labels.append(text)
    return tuple(labels)


def _y_range(values: np.ndarray, symmetric: bool) -> tuple[float, float] | None:
    """One y range for every frame (time × wavelength ``values``), from the good wavelengths."""
    return _padded(robust_colour_limits(values, symmetric), SPECTRUM_Y_PAD)


def spectrum_frames(
    cube: Cube,
    mode: str = "variability",
    *,
    max_frames: int | None = None,
    max_wavelength: int | None = None,
) -> SpectrumFrames:
    """Every frame of the spectrum player, from one cube (any resolution).

    Parameters
    ----------
    cube : Cube
        Normalized (variability %) or not (flux).
    mode : {"variability", "flux"}
        Variability % of the visit's reference (a flux cube is divided by its visit's
        median spectrum), or flux beside that reference (a normalized cube is turned
        back into flux with its stored reference).
    max_frames, max_wavelength : int, optional
        Bin to at most this many frames / wavelengths first (:func:`display_cube`:
        consecutive integrations averaged within each visit, none dropped; the labels
        say which). Default: the cube's own rows and columns.
    """
    if mode not in SPECTRUM_MODES:
        raise ValueError(f"mode must be one of {', '.join(SPECTRUM_MODES)}, not {mode!r}")
    shown = display_cube(cube, max_time=max_frames or max(cube.n_integrations, 1),
                         max_wavelength=max_wavelength or max(cube.n_wavelengths, 1))
    references = _visit_reference(shown) if shown.n_integrations else np.empty((0, shown.n_wavelengths))
    visit = np.minimum(np.asarray(shown.visit, dtype=int), max(len(references) - 1, 0))
    row_reference = references[visit] if len(references) else np.empty_like(shown.flux)
    if mode == "flux":
        value, error, unit = _in_flux(shown, shown.flux, shown.error, row_reference)
        reference, y_label = references, f"Flux ({unit})" if unit else "Flux"
    else:
        if shown.is_normalized:
            value, error = shown.flux, shown.error
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                value = (shown.flux / row_reference - 1.0) * 100.0
                error = shown.error / np.abs(row_reference) * 100.0
        unit, y_label = "%", SPECTRUM_MODES["variability"]
        reference = np.zeros((max(len(references), 1), shown.n_wavelengths))
    return SpectrumFrames(
        wavelength=np.asarray(shown.wavelength, dtype=float), value=_f32(value), error=_f32(error),
        reference=_f32(reference), visit=visit, labels=frame_labels(shown), mode=mode, unit=unit,
        y_label=y_label, y_range=_y_range(value, symmetric=mode == "variability"),
        target=_display_name(cube), noisy=noisy_channels(shown.flux, shown.is_normalized),
    )


#: A spectrum with at most this many wavelength columns with data gets markers on its line:
#: a one-point line draws nothing, and two or three points read better as points.
FEW_COLUMNS = 3


def _spectrum_traces(frames: SpectrumFrames, index: int) -> list[go.Scatter]:
    unit_text = f" {frames.unit}" if frames.unit else ""
    w = _f32(frames.wavelength)
    value, error = frames.value[index], frames.error[index]
    reference = frames.reference[min(int(frames.visit[index]), len(frames.reference) - 1)]
    reference_name = "0 % (the visit's reference)" if frames.mode == "variability" else "Reference (visit median)"
    band_x, band_y = error_band_polygons(w, value, error)
    few = int(np.isfinite(frames.value).any(axis=0).sum()) <= FEW_COLUMNS
    return [
        go.Scatter(
            x=_f32(band_x),
            y=_f32(band_y),
            fill="toself",
            fillcolor=SPECTRUM_BAND_FILL,
            line={"width": 0, "color": "rgba(31,119,180,0)"},
            hoverinfo="skip",
            name="±1σ",
            meta={"role": "error-ribbon"},
        ),
        go.Scatter(
            x=w,
            y=_f32(value),
            customdata=_f32(error),
            mode="lines+markers" if few else "lines",
            marker={"size": 8, "color": "rgb(31,119,180)"},
            line={"width": 1.5, "color": "rgb(31,119,180)"},
            name="Spectrum",
            hovertemplate=f"λ = %{{x:.4f}} µm<br>%{{y:.4g}}{unit_text} ± %{{customdata:.3g}}{unit_text}<extra>spectrum</extra>",
            meta={"role": "spectrum"},
        ),
        go.Scatter(
            x=w,
            y=_f32(reference),
            mode="lines",
            line={"width": 1.2, "color": "rgb(214,39,40)", "dash": "dot"},
            name=reference_name,
            hovertemplate=f"λ = %{{x:.4f}} µm<br>%{{y:.4g}}{unit_text}<extra>reference</extra>",
            meta={"role": "reference"},
        ),
    ]


def _spectrum_layout(frames: SpectrumFrames, index: int) -> dict:
    yaxis: dict = {"title": {"text": frames.y_label}}
    if frames.y_range is not None:
        yaxis["range"] = list(frames.y_range)
    marks = {}
    if frames.noisy is not None and frames.noisy.flagged.any() and frames.wavelength.size:
        marks = {"shapes": noisy_channel_rects(frames.noisy.flagged, _cell_edges(frames.wavelength)),
                 "annotations": [{"text": noisy_key(frames.noisy.factor), "showarrow": False, "xref": "paper",
                                  "yref": "paper", "x": 1.0, "y": 1.0 + NOISY_STRIP, "xanchor": "right",
                                  "yanchor": "bottom", "font": {"size": 11, "color": "#555"}, "name": "noisy-key"}]}
    return {
        **marks,
        "template": _TEMPLATE,
        # Left-aligned, with room above the plot: a long title never runs under the toolbar (top right).
        "title": {"text": frames.title(index) if frames.n_frames else frames.target, "x": 0.01, "xanchor": "left",
                  "y": 0.97, "yanchor": "top", "font": {"size": 14}},
        "xaxis": {"title": {"text": WAVELENGTH_LABEL}},
        "yaxis": yaxis,
        "legend": {"orientation": "h", "y": -0.2},
        "margin": {"l": 70, "r": 20, "t": 70, "b": 60},
        "uirevision": "stamp-spectrum",
        "meta": {"stamp_figure": "spectrum", "mode": frames.mode},
    }


def spectrum_figure(cube: Cube, index: int, mode: str = "variability", *, frames: SpectrumFrames | None = None) -> go.Figure:
    """The spectrum of row ``index`` (from 0) with its ±1σ band, at full resolution.

    Variability % by default, beside the 0 % line (see :func:`spectrum_frames`); with
    ``mode="flux"`` the flux beside the visit's reference spectrum. The title says which
    integrations and times the row averages (1-based, :func:`frame_labels`).
    ``frames`` reuses frames already computed for ``cube``.
    """
    if not -cube.n_integrations <= index < cube.n_integrations:
        raise IndexError(f"integration row {index} is outside 0…{cube.n_integrations - 1}")
    frames = frames if frames is not None else spectrum_frames(cube, mode)
    row = index % cube.n_integrations
    fig = go.Figure(_spectrum_traces(frames, row))
    fig.update_layout(**_spectrum_layout(frames, row))
    return fig


def spectrum_player_figure(
    cube: Cube, max_frames: int = 200, *, max_wavelength: int = MAX_DISPLAY_WAVELENGTH, mode: str = "variability"
) -> go.Figure:
    """Animated spectrum for standalone pages: Plotly frames with a slider and play/pause buttons.

    The frames of :func:`spectrum_frames` (variability % by default, as in the
    dashboard's player and the MP4), binned in time to at most ``max_frames`` steps
    (consecutive integrations averaged, none dropped) and in wavelength to
    ``max_wavelength`` columns; frame data are float32, labels 1-based.
    """
    frames = spectrum_frames(cube, mode, max_frames=max_frames, max_wavelength=max_wavelength)
    n = frames.n_frames
    bands = [error_band_polygons(frames.wavelength, frames.value[i], frames.error[i]) for i in range(n)]
    references = frames.reference[np.minimum(frames.visit, len(frames.reference) - 1)] if n else frames.reference
    # frames carry only what changes: the band (its polygons follow each frame's NaN columns),
    # the y values of spectrum and reference
    plotly_frames = [
        go.Frame(
            name=str(i + 1),
            data=[{"x": _f32(bands[i][0]), "y": _f32(bands[i][1])}, {"y": frames.value[i]}, {"y": references[i]}],
            traces=[0, 1, 2],
            layout={"title": {"text": frames.title(i)}},
        )
        for i in range(n)
    ]
    fig = go.Figure(data=_spectrum_traces(frames, 0) if n else [], frames=plotly_frames)
    frame_args = {"frame": {"duration": 80, "redraw": False}, "mode": "immediate", "transition": {"duration": 0}}
    fig.update_layout(**_spectrum_layout(frames, 0))
    fig.update_layout(
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "x": 0.0,
                "y": -0.28,
                "xanchor": "left",
                "buttons": [
                    {"label": "▶ Play", "method": "animate", "args": [None, {**frame_args, "fromcurrent": True}]},
                    {"label": "❚❚ Pause", "method": "animate", "args": [[None], {**frame_args, "frame": {"duration": 0, "redraw": False}}]},
                ],
            }
        ],
        sliders=[
            {
                "active": 0,
                "x": 0.2,
                "y": -0.22,
                "len": 0.8,
                "currentvalue": {"prefix": "frame "},
                "steps": [
                    {"label": str(i + 1), "method": "animate", "args": [[str(i + 1)], frame_args]}
                    for i in range(n)
                ],
            }
        ],
        margin={"b": 130},
    )
    return fig
