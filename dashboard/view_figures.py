"""The views' figures, built from cached cubes with :mod:`stamp_engine.figures`.

Plain functions of cubes and options (no Dash callback machinery), so the views'
logic is tested without a browser; the summary card's rows are in :mod:`dashboard.summary`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go

from stamp_engine.bands import Band, usable_bands
from stamp_engine.cube import Cube

from .options import DisplayOptions


def empty_figure(message: str) -> dict:
    """A blank figure carrying a short message (before data are processed, or after eviction).

    A plain figure dict: the page has ten of them on every load, and building each as a
    validated ``go.Figure`` cost ~40 ms of the layout request.  No template: plotly_white's
    7 kB would come with each, for a blank plot that looks the same without it.
    """
    return {
        "data": [],
        "layout": {
            "xaxis": {"visible": False}, "yaxis": {"visible": False}, "template": {},
            "paper_bgcolor": "white", "plot_bgcolor": "white",
            "annotations": [{"text": message, "showarrow": False, "font": {"size": 15, "color": "#6c757d"},
                             "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}],
            "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
        },
    }


def grid_figure(display: Cube, bands: Sequence[Band], options: DisplayOptions, kind: str, *,
                heatmap_errors: str = "customdata", **limits: int) -> go.Figure:
    """The 3D surface (``kind="surface"``, one per visit) or the heatmap of a display-resolution cube.

    Both are split at the bands' edges so the browser can highlight a band; ``limits``
    (``max_time``, ``max_wavelength``) are the display resolution.  The stretch applies
    to raw flux only (variability stays linear, centred on 0); the visit layout to the
    heatmap.  Options the figure cannot draw (a log stretch of a range below 0) give a
    figure saying why.  ``heatmap_errors``: where the heatmap's hover finds the errors
    (:func:`stamp_engine.figures.heatmap_figure`'s ``errors``).
    """
    from stamp_engine import figures

    extra: dict[str, Any] = {"stretch": "linear" if display.is_normalized else options.stretch}
    if kind == "heatmap":
        extra["visits"] = options.visits
        extra["errors"] = heatmap_errors
    build = {"surface": figures.surface_figure, "heatmap": figures.heatmap_figure}[kind]
    try:
        return build(display, bands=tuple(bands), colorscale=options.colorscale, zrange=options.zrange, **extra, **limits)
    except ValueError as error:
        return go.Figure(empty_figure(f"Cannot draw this: {error}"))


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
    """Slider marks at a few frames (numbered from 1, as in the player's title), labelled by their time
    since t0 in the display unit of :meth:`Cube.time_axis` (seconds for a short series)."""
    n = display.n_integrations
    axis = display.time_axis()
    positions = np.unique(np.linspace(0, n - 1, min(n, n_marks)).round().astype(int))
    return {int(i) + 1: axis.text(display.hours[i], 2) for i in positions}
