"""The colour axis of maps and surfaces: the offered colour scales, the colour range (automatic or
given, stretched), zero kept on the centre colour, and what the browser needs to re-colour a map."""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

import numpy as np
import plotly.colors as pcolors

from ..colour import (
    beyond_fraction,
    centred_colorscale,
    centring_stops,
    clip_note,
    robust_colour_limits,
    stretch_ticks,
    unstretch_values,
)
from ..cube import Cube
from .common import _value_name_and_unit, _ValueScale

_DIVERGING_NAMES = ("RdBu_r", "RdBu", "PuOr_r", "BrBG", "PiYG", "Spectral_r", "balance", "curl")
_SEQUENTIAL_NAMES = ("Viridis", "Inferno", "Magma", "Plasma", "Cividis", "Turbo", "Greys", "thermal", "Hot")

#: Colour scales offered to users: name → explicit Plotly scale ((position, colour), …).
#: Explicit, because Plotly.js knows only a few scales by name ("RdBu_r", "Inferno"… are Python-side names).
COLORSCALES: Mapping[str, tuple[tuple[float, str], ...]] = MappingProxyType(
    {name: tuple((float(p), str(c)) for p, c in pcolors.get_colorscale(name)) for name in _DIVERGING_NAMES + _SEQUENTIAL_NAMES}
)
#: Scales with a neutral middle, meant to be centred on zero variability.
DIVERGING_COLORSCALES = frozenset(_DIVERGING_NAMES)
#: Default for variability (%): red = brighter, blue = fainter, white = 0.
DEFAULT_COLORSCALE = "RdBu_r"
#: Default for flux (not normalized).
DEFAULT_FLUX_COLORSCALE = "Viridis"
#: The one colour axis a figure's maps and surfaces share.
COLORAXIS = "coloraxis"


def colorscale(name: str) -> list[list]:
    """The explicit Plotly scale called ``name`` (one of :data:`COLORSCALES`, or any Plotly name).

    Raises
    ------
    ValueError
        When Plotly knows no scale of that name.
    """
    if name in COLORSCALES:
        return [list(stop) for stop in COLORSCALES[name]]
    try:
        return [list(stop) for stop in pcolors.get_colorscale(name)]
    except Exception:
        raise ValueError(f"unknown colour scale {name!r}; choose one of {', '.join(COLORSCALES)}") from None


def _colorscale_name(cube: Cube, name: str | None) -> str:
    if name is None:
        return DEFAULT_COLORSCALE if cube.is_normalized else DEFAULT_FLUX_COLORSCALE
    colorscale(name)  # fail early on an unknown name
    return name


def _colour_range(values: np.ndarray, centred: bool, zrange: tuple[float, float] | None) -> tuple[float, float] | None:
    """Colour limits: ``zrange`` if given, else :func:`stamp_engine.colour.robust_colour_limits`."""
    if zrange is not None:
        lo, hi = float(zrange[0]), float(zrange[1])
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"zrange must be two increasing numbers, not {zrange!r}")
        return lo, hi
    return robust_colour_limits(values, centred)


def _stretched_range(zrange: tuple[float, float] | None, scale: _ValueScale) -> tuple[float, float] | None:
    """A manual range given in flux, in the stretched values the figure draws."""
    if zrange is None or scale.stretch == "linear":
        return zrange
    _colour_range(np.empty((0, 0)), False, zrange)  # the same check of the numbers
    if scale.stretch == "log" and not zrange[0] > 0:
        raise ValueError(f"a log stretch needs a colour range above 0, not {zrange[0]:g}…{zrange[1]:g}")
    lo, hi = scale.apply(np.asarray(zrange, dtype=float))
    return float(lo), float(hi)


def zero_is_centred(normalized: bool, scale_name: str | None, limits: tuple[float, float] | None) -> bool:
    """Whether a map says where 0 % is: on a diverging scale (``None``: the default for
    variability) 0 % gets the centre colour only when the colour range contains 0."""
    diverging = (scale_name or DEFAULT_COLORSCALE) in DIVERGING_COLORSCALES
    return not (normalized and diverging and limits is not None and not limits[0] < 0 < limits[1])


#: Where the colour bar's title puts the saturation note (:func:`stamp_engine.colour.clip_note`):
#: the browser fills ``{note}`` in the same way after a colour range typed in the page.
NOTE_SLOT = "{note}"


def colour_bar_title(scale: _ValueScale, note: str | None) -> str:
    """The colour bar's title: what the colour is, and after it (smaller) the saturation note."""
    if not note:
        return scale.label
    # one line: a second line would make the bar wider than the margin kept for it, and plotly.js would
    # then redraw every cell of the map whenever the colour bar changes
    return f'{scale.label}  <span style="font-size:10px">({note})</span>'


def saturation_note(scale: _ValueScale, drawn: np.ndarray, limits: tuple[float, float] | None) -> str | None:
    """:func:`stamp_engine.colour.clip_note` for the cells ``drawn`` (stretched values) on ``limits``,
    the range written in flux for a stretched map; None without limits."""
    if limits is None:
        return None
    fraction = beyond_fraction(drawn, *limits)
    low, high = (float(v) for v in unstretch_values(np.asarray(limits, dtype=float), scale.stretch, scale.softening))
    return clip_note(low, high, fraction, scale.unit)


def _coloraxis(cube: Cube, scale_name: str, limits: tuple[float, float] | None, scale: _ValueScale | None = None,
               note: str | None = None) -> dict:
    scale = scale or _ValueScale(*_value_name_and_unit(cube))
    colours = colorscale(scale_name)
    if cube.is_normalized and scale_name in DIVERGING_COLORSCALES and limits is not None:
        # Plotly ignores cmid once cmin/cmax are set: move the centre colour to 0 instead
        colours = centred_colorscale(colours, *limits)
    axis: dict = {"colorscale": colours, "colorbar": {"title": {"text": colour_bar_title(scale, note), "side": "right"}}}
    if limits is not None:
        axis.update(cmin=limits[0], cmax=limits[1])
        tickvals, ticktext = stretch_ticks(limits[0], limits[1], scale.stretch, scale.softening)
        if tickvals:
            axis["colorbar"].update(tickvals=tickvals, ticktext=ticktext)
    if cube.is_normalized:
        axis["cmid"] = 0.0  # only used while no limits are known; the colour scale itself is centred
    return axis


def browser_colours(cube: Cube, scale: "_ValueScale", drawn: np.ndarray, limits: tuple[float, float] | None,
                    zrange: tuple[float, float] | None) -> dict:
    """What a browser needs to re-colour a drawn map for another colour scale or range without the server.

    ``assets/stamp_dashboard.js`` (``applyColour``) reads it from the heatmap's
    ``layout.meta.colour``: every scale of :data:`COLORSCALES` (its stops and, for a
    diverging scale on a variability map, :func:`stamp_engine.colour.centring_stops`,
    which the browser evaluates where a typed range puts 0), the scale an automatic
    choice means, the automatic (robust) limits, and the stretch (only a linear map
    is re-coloured in the browser: stretched ranges need the server), and the colour
    bar's title with a slot for the saturation note (:func:`saturation_note`), which the
    browser rewrites from the cells it repaints.
    """
    auto = limits if zrange is None else robust_colour_limits(drawn, cube.is_normalized)
    centred = DIVERGING_COLORSCALES if cube.is_normalized else frozenset()
    scales = {name: {"stops": colorscale(name), "centring": centring_stops(colorscale(name)) if name in centred else None}
              for name in COLORSCALES}
    return {
        "scales": scales,
        "default": _colorscale_name(cube, None),
        "auto": None if auto is None else [float(auto[0]), float(auto[1])],
        "stretch": scale.stretch,
        # the colour bar's title with a slot for the saturation note the browser recounts
        "clip": {"title": colour_bar_title(scale, NOTE_SLOT), "slot": NOTE_SLOT, "unit": scale.unit},
    }
