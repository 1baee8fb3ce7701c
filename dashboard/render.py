"""What the views show, built from cached cubes with :mod:`stamp_engine.figures`.

Plain functions of cubes and options (no Dash callback machinery), so the views'
logic is tested without a browser.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go

from stamp_engine.bands import Band, usable_bands
from stamp_engine.cube import Cube

from .options import DisplayOptions


def empty_figure(message: str) -> go.Figure:
    """A blank figure carrying a short message (before data are processed, or after eviction)."""
    fig = go.Figure()
    fig.update_layout(
        xaxis={"visible": False}, yaxis={"visible": False}, template="plotly_white",
        annotations=[{"text": message, "showarrow": False, "font": {"size": 15, "color": "#6c757d"},
                      "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}],
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return fig


def grid_figure(display: Cube, bands: Sequence[Band], options: DisplayOptions, kind: str, **limits: int) -> go.Figure:
    """The 3D surface (``kind="surface"``, one per visit) or the heatmap of a display-resolution cube.

    Both are split at the bands' edges so the browser can highlight a band; ``limits``
    (``max_time``, ``max_wavelength``) are the display resolution.  The stretch applies
    to raw flux only (variability stays linear, centred on 0); the visit layout to the
    heatmap.  Options the figure cannot draw (a log stretch of a range below 0) give a
    figure saying why.
    """
    from stamp_engine import figures

    extra: dict[str, Any] = {"stretch": "linear" if display.is_normalized else options.stretch}
    if kind == "heatmap":
        extra["visits"] = options.visits
    build = {"surface": figures.surface_figure, "heatmap": figures.heatmap_figure}[kind]
    try:
        return build(display, bands=tuple(bands), colorscale=options.colorscale, zrange=options.zrange, **extra, **limits)
    except ValueError as error:
        return empty_figure(f"Cannot draw this: {error}")


def light_curves(processed: Cube, bands: Sequence[Band]) -> go.Figure:
    """White light and one curve per band, measured on the full-resolution processed cube."""
    from stamp_engine import figures

    return figures.light_curve_figure(processed.light_curves(usable_bands(processed, bands)))


def spectrum(display: Cube, index: int | None, mode: str = "variability") -> go.Figure:
    """The spectrum of one (display-resolution) row, from 0, with its error band (variability % by default)."""
    from stamp_engine import figures

    index = int(np.clip(index or 0, 0, display.n_integrations - 1))
    return figures.spectrum_figure(display, index, mode)


def spectrum_player(display: Cube, mode: str = "variability") -> tuple[go.Figure, dict]:
    """The player's first frame and every frame for the browser, which animates them without the server."""
    from stamp_engine import figures

    frames = figures.spectrum_frames(display, mode)
    return figures.spectrum_figure(display, 0, mode, frames=frames), frames.to_browser()


def slider_marks(display: Cube, n_marks: int = 6) -> dict[int, str]:
    """Slider marks at a few frames (numbered from 1, as in the player's title), labelled by their time in hours."""
    n = display.n_integrations
    hours = display.hours
    positions = np.unique(np.linspace(0, n - 1, min(n, n_marks)).round().astype(int))
    return {int(i) + 1: f"{hours[i]:.2f} h" for i in positions}


def integrations_text(cube: Cube) -> str:
    """``"520 integrations"``, or ``"520 integrations (+179 interpolated for display)"`` when rows were
    made by ``interpolate_gaps``: interpolated rows are not integrations."""
    from stamp_engine.figures import interpolated_rows

    made = int(np.count_nonzero(interpolated_rows(cube)))
    text = f"{cube.n_integrations - made} integrations"
    return f"{text} (+{made} interpolated for display)" if made else text


def _fmt_range(lo: float, hi: float, unit: str, digits: int = 3) -> str:
    return f"{lo:.{digits}f}–{hi:.{digits}f} {unit}"


def summarize(loaded: Cube, shown: str = "") -> list[tuple[str, str]]:
    """(label, value) rows of the summary card, from the loaded cube (and a line on what is shown)."""
    meta = loaded.meta
    mode = " / ".join(str(meta[k]) for k in ("exp_type", "filter", "grating", "pupil") if meta.get(k))
    instrument = " ".join(str(v) for v in (meta.get("instrument"), meta.get("detector")) if v)
    files = meta.get("files") or [{"source": s, "used": True} for s in loaded.sources]
    used = sum(1 for f in files if f.get("used"))
    rows = [
        ("Target", loaded.target),
        ("Instrument", instrument or "unknown"),
        ("Mode", mode or "unknown"),
        ("Files", f"{used} used of {len(files)}"),
        ("Integrations", f"{loaded.n_integrations}"),
        ("Wavelengths", f"{loaded.n_wavelengths}, " + _fmt_range(float(loaded.wavelength[0]), float(loaded.wavelength[-1]), "µm")),
        ("Time span", f"{loaded.hours[-1] - loaded.hours[0]:.2f} h from {loaded.t0.iso[:19]}"),
        ("Time scale", loaded.time_standard + (f" ({meta['time_standard_note']})" if meta.get("time_standard_note") else "")),
        ("Visits", f"{loaded.n_visits}"),
        ("Flux unit", loaded.flux_unit.to_string() or "dimensionless"),
    ]
    if meta.get("pipeline"):
        rows.append(("Pipeline", str(meta["pipeline"])))
    available = meta.get("elements_available") or []
    if len(available) > 1:
        rows.append(("Spectral element", f"{meta.get('element_used') or 'default'} shown (of {', '.join(available)})"))
    if shown:
        rows.append(("Shown", shown))
    return rows


def problem_records(cube: Cube) -> list[dict[str, str]]:
    """The engine's per-file problems as small dicts for the browser."""
    return [{"source": p.source, "message": p.message, "severity": p.severity} for p in cube.problems]


def limits_of(cube: Cube) -> dict[str, Any]:
    """The data extent the controls are checked against."""
    from .options import DataLimits

    return DataLimits(
        wavelength=(float(cube.wavelength[0]), float(cube.wavelength[-1])),
        hours=(float(cube.hours[0]), float(cube.hours[-1])),
        n_integrations=cube.n_integrations,
    ).to_dict()
