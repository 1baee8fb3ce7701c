"""Plotly figures of a cube: 3D surface, heatmap, light curves, spectrum (+ player).

The dashboard and the standalone HTML exports build the same figures from here, so
what a user sees in the browser and what they download are identical.

Size and speed: figures are built from a cube reduced to display resolution by
:func:`display_cube` (binning, never dropping samples) and every array goes into the
figure as float32, which Plotly serializes as a base64 typed array
(``{"dtype": "f4", "bdata": …}``): a 10,000 × 2,040 two-visit cube becomes figures of
a few MB that rotate and hover smoothly.

Band highlighting: surfaces and heatmaps are ONE trace per visit (no seams where bands
meet); each carries ``meta = {"role": "band-map", "visit": v, "extent": [x0, x1],
"bands": [{"name", "columns": [start, stop], "x": [x0, x1]}, …]}`` — the display columns
and the wavelength span (cell edges, µm) of every band inside the data
(:func:`band_columns`). ``assets/stamp_bands.js`` highlights a band in the browser: opaque
light-grey layout shapes over the other columns of a heatmap (a relayout, no trace
redraw) and, on a surface, a ``surfacecolor`` that sends the other columns to a grey
stop added below the colour axis's scale.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Mapping, Sequence

import astropy.units as u
import numpy as np
import plotly.colors as pcolors
import plotly.graph_objects as go

from .bands import Band
from .cube import Cube
from .processing import nanmedian_over_time

if TYPE_CHECKING:
    from astropy.time import Time

    from .processing import LightCurve

# ----------------------------------------------------------------- colour scales
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

#: Display resolution: a surface of this many vertices per figure rotates smoothly in a browser.
MAX_DISPLAY_TIME = 600
MAX_DISPLAY_WAVELENGTH = 500
#: Upper bound on the JSON of any figure built here.
FIGURE_BUDGET_BYTES = 5 * 1024 * 1024

WAVELENGTH_LABEL = "Wavelength (µm)"
COLORAXIS = "coloraxis"
#: Line colours of band light curves (white light is drawn in near-black).
_CURVE_COLOURS = pcolors.qualitative.D3
_WHITE_LIGHT_COLOUR = "#222222"
_TEMPLATE = "plotly_white"


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


# ------------------------------------------------------------ display resolution
def display_cube(cube: Cube, max_time: int = MAX_DISPLAY_TIME, max_wavelength: int = MAX_DISPLAY_WAVELENGTH) -> Cube:
    """The cube binned to at most about ``max_time`` × ``max_wavelength`` cells.

    Uses :func:`stamp_engine.processing.bin` (mean) with integer factors
    ``ceil(n / max)``: every sample contributes to a displayed value, so a one-pixel
    spike shows as spike/N rather than vanishing or dominating, and errors are
    propagated by the binning. A cube already small enough is returned as is.
    """
    if max_time < 1 or max_wavelength < 1:
        raise ValueError("max_time and max_wavelength must be at least 1")
    time_factor = max(1, math.ceil(cube.n_integrations / max_time))
    wavelength_factor = max(1, math.ceil(cube.n_wavelengths / max_wavelength))
    if time_factor == 1 and wavelength_factor == 1:
        return cube
    from . import processing

    return processing.bin(cube, time=time_factor, wavelength=wavelength_factor, method="mean")


def _hours_since(time: "Time", t0: "Time") -> np.ndarray:
    """Hours of ``time`` since ``t0``; figures of a binned cube keep the full cube's t0."""
    return (time.mjd - t0.mjd) * 24.0


def _f32(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float32)


# ------------------------------------------------------------------ band columns
@dataclass(frozen=True)
class BandColumns:
    """Display columns ``start:stop`` of the band ``name`` (wavelength ascending)."""

    name: str
    start: int
    stop: int


def _cell_edges(centres: np.ndarray) -> np.ndarray:
    """Edges of the cells around ascending ``centres``: midpoints, half a step beyond each end."""
    if centres.size == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    mid = 0.5 * (centres[1:] + centres[:-1])
    return np.concatenate([[2 * centres[0] - mid[0]], mid, [2 * centres[-1] - mid[-1]]])


def _band_columns(wavelength: np.ndarray, band: Band) -> tuple[int, int]:
    """Column range ``[start, stop)`` of ``band`` (wavelength ascending).

    A band narrower than one display column still gets the column nearest its centre,
    so choosing it in the dashboard always lights something up.
    """
    start = int(np.searchsorted(wavelength, band.start, side="left"))
    stop = int(np.searchsorted(wavelength, band.end, side="right"))
    if start == stop and wavelength.size and band.overlaps(float(wavelength[0]), float(wavelength[-1])):
        nearest = int(np.argmin(np.abs(wavelength - 0.5 * (band.start + band.end))))
        start, stop = nearest, nearest + 1
    return start, stop


def band_columns(wavelength: np.ndarray, bands: Sequence[Band] = ()) -> list[BandColumns]:
    """The display columns of each band that holds at least one of them.

    Parameters
    ----------
    wavelength : ndarray
        Ascending wavelengths (µm) of the columns.
    bands : sequence of Band

    Returns
    -------
    list of BandColumns
        In the order of ``bands``; bands outside the data are left out.
    """
    spans = [BandColumns(band.name, *_band_columns(np.asarray(wavelength), band)) for band in bands]
    return [span for span in spans if span.start < span.stop]


def surface_vertex_columns(n_wave: int, spans: Sequence[BandColumns]) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Columns of a surface's vertices, with every band edge drawn twice, and each band's vertex range.

    A surface colours the quad between two vertices by interpolating their values, so a
    band edge between an in-band and a greyed vertex would show every colour of the scale
    in between. Each inner band edge column ``c`` is therefore repeated: the first copy
    ends the quad on its left, the second starts the one on its right (a zero-width
    quad joins them). The quad between columns ``j`` and ``j + 1`` belongs to the band
    holding ``j``, as the heatmap cell ``j`` does.

    Returns
    -------
    columns : ndarray of int
        Display column of each vertex column (ascending, edges repeated).
    ranges : list of (int, int)
        Per span, the vertex columns ``[start, stop)`` drawn in the band's colours.
    """
    cuts = np.unique([c for s in spans for c in (s.start, s.stop) if 0 < c < n_wave]).astype(int)
    every = np.arange(n_wave)
    columns = np.repeat(every, 1 + np.isin(every, cuts))
    first_copy = every + np.searchsorted(cuts, every, side="left")  # vertex index of column c's first copy

    def vertex_range(span: BandColumns) -> tuple[int, int]:
        start = int(first_copy[span.start]) + (1 if span.start > 0 else 0)
        stop = int(first_copy[span.stop]) + 1 if span.stop < n_wave else int(columns.size)
        return start, stop

    return columns, [vertex_range(s) for s in spans]


def _band_map_meta(visit: int, edges: np.ndarray, spans: Sequence[BandColumns], ranges: Sequence[tuple[int, int]]) -> dict:
    """The trace meta ``assets/stamp_bands.js`` highlights from (see the module docstring);
    ``ranges`` are the z columns drawn in each band's colours."""
    return {
        "role": "band-map",
        "visit": int(visit),
        "extent": [float(edges[0]), float(edges[-1])],
        "bands": [
            {"name": s.name, "columns": [int(a), int(b)], "x": [float(edges[s.start]), float(edges[s.stop])]}
            for s, (a, b) in zip(spans, ranges)
        ],
    }


# ------------------------------------------------------------------ value labels
def _value_name_and_unit(cube: Cube) -> tuple[str, str]:
    if cube.is_normalized:
        return "Variability", "%"
    unit = "" if cube.flux_unit == u.dimensionless_unscaled else cube.flux_unit.to_string()
    return "Flux", unit


def _colour_range(values: np.ndarray, centred: bool, zrange: tuple[float, float] | None) -> tuple[float, float] | None:
    """Colour limits: ``zrange`` if given, else robust limits (0.5–99.5 percentile; symmetric about 0 when centred)."""
    if zrange is not None:
        lo, hi = float(zrange[0]), float(zrange[1])
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"zrange must be two increasing numbers, not {zrange!r}")
        return lo, hi
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    if centred:
        limit = float(np.percentile(np.abs(finite), 99.5))
        limit = limit if limit > 0 else 1.0
        return -limit, limit
    lo, hi = (float(v) for v in np.percentile(finite, [0.5, 99.5]))
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


def _coloraxis(cube: Cube, scale_name: str, limits: tuple[float, float] | None) -> dict:
    name, unit = _value_name_and_unit(cube)
    axis: dict = {
        "colorscale": colorscale(scale_name),
        "colorbar": {"title": {"text": f"{name} ({unit})" if unit else name, "side": "right"}},
    }
    if limits is not None:
        axis.update(cmin=limits[0], cmax=limits[1])
    if cube.is_normalized:
        axis["cmid"] = 0.0
    return axis


def _hover_template(cube: Cube, visit_label: str) -> str:
    name, unit = _value_name_and_unit(cube)
    unit = f" {unit}" if unit else ""
    return (
        "λ = %{x:.4f} µm<br>"
        f"t = %{{y:.4f}} h ({cube.time_standard} − t0)<br>"
        f"{name} = %{{z:.4g}}{unit}<br>"
        f"error = ± %{{customdata:.3g}}{unit}"
        f"<extra>{visit_label}</extra>"
    )


def _title(cube: Cube, title: str | None, what: str) -> str:
    return title if title is not None else f"{cube.target} — {what}"


# --------------------------------------------------------------------- 3D surface
def surface_figure(
    cube: Cube,
    bands: Sequence[Band] = (),
    colorscale: str | None = None,
    zrange: tuple[float, float] | None = None,
    title: str | None = None,
    *,
    max_time: int = MAX_DISPLAY_TIME,
    max_wavelength: int = MAX_DISPLAY_WAVELENGTH,
) -> go.Figure:
    """3D surface: wavelength × time × (variability % or flux), one surface per visit.

    Parameters
    ----------
    cube : Cube
        Any resolution; binned to ``max_time`` × ``max_wavelength`` for display.
    bands : sequence of Band
        Bands the browser can highlight (their display columns go into the trace meta).
    colorscale : str, optional
        A name from :data:`COLORSCALES`; default RdBu_r for variability (centred on 0),
        Viridis for flux.
    zrange : (float, float), optional
        Fixed z and colour range; default robust limits of the data.
    title : str, optional

    Returns
    -------
    plotly.graph_objects.Figure
        One ``go.Surface`` per visit (see module docstring) on one shared
        colour axis; hover shows time, wavelength, value and error.
    """
    return _grid_figure(cube, bands, colorscale, zrange, title, max_time, max_wavelength, kind="surface")


def heatmap_figure(
    cube: Cube,
    bands: Sequence[Band] = (),
    colorscale: str | None = None,
    zrange: tuple[float, float] | None = None,
    title: str | None = None,
    *,
    max_time: int = MAX_DISPLAY_TIME,
    max_wavelength: int = MAX_DISPLAY_WAVELENGTH,
) -> go.Figure:
    """2D map (x wavelength, y time) of the same data as :func:`surface_figure`.

    Each visit is one trace, so the time gap between visits shows as empty space on
    the hours axis instead of stretched cells.
    """
    return _grid_figure(cube, bands, colorscale, zrange, title, max_time, max_wavelength, kind="heatmap")


def _grid_figure(
    cube: Cube,
    bands: Sequence[Band],
    scale: str | None,
    zrange: tuple[float, float] | None,
    title: str | None,
    max_time: int,
    max_wavelength: int,
    kind: str,
) -> go.Figure:
    scale_name = _colorscale_name(cube, scale)
    shown = display_cube(cube, max_time=max_time, max_wavelength=max_wavelength)
    hours = _hours_since(shown.time, cube.t0) if cube.n_integrations else np.empty(0)
    limits = _colour_range(shown.flux, cube.is_normalized, zrange)
    spans = band_columns(shown.wavelength, bands)
    n_visits = shown.n_visits
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
    for v in range(n_visits):
        rows = np.flatnonzero(shown.visit == v)
        if rows.size == 0:
            continue
        visit_label = f"Visit {v + 1}" if n_visits > 1 else ""
        common = dict(
            x=x,
            y=_f32(hours[rows]),
            z=_f32(shown.flux[rows][:, columns]),
            coloraxis=COLORAXIS,
            hovertemplate=_hover_template(cube, visit_label),
            name=visit_label or "Data",
            meta=_band_map_meta(v, edges, spans, ranges),
        )
        if kind == "surface":
            # Plotly.js looks up a surface's customdata as customdata[x index][y index],
            # the transpose of z (see the gl3d scene hover), hence error.T.
            traces.append(
                go.Surface(
                    **common,
                    customdata=_f32(shown.error[rows][:, columns].T),
                    lighting={"ambient": 0.85, "diffuse": 0.3, "specular": 0.05, "roughness": 0.9},
                    showlegend=False,
                )
            )
        else:
            traces.append(go.Heatmap(**common, customdata=_f32(shown.error[rows]), zsmooth=False, showlegend=False))
    fig = go.Figure(data=traces)
    value_label = cube.value_label
    fig.update_layout(
        template=_TEMPLATE,
        title={"text": _title(cube, title, "3D view" if kind == "surface" else "map")},
        coloraxis=_coloraxis(cube, scale_name, limits),
        margin={"l": 10 if kind == "surface" else 70, "r": 10, "t": 50, "b": 10 if kind == "surface" else 60},
        uirevision="stamp",
        meta={"stamp_figure": kind, "time_standard": cube.time_standard, "t0_mjd": float(cube.t0.mjd) if cube.n_integrations else None},
    )
    if kind == "surface":
        zaxis = {"title": {"text": value_label}}
        if zrange is not None:
            zaxis["range"] = list(limits)  # type: ignore[arg-type]
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
        fig.update_layout(
            xaxis={"title": {"text": WAVELENGTH_LABEL}},
            yaxis={"title": {"text": cube.time_label}},
            plot_bgcolor="rgb(235,235,235)",  # the visit gap reads as empty, not as data
        )
    return fig


# ------------------------------------------------------------------ light curves
def _block_mean(values: np.ndarray, errors: np.ndarray, hours: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Means of consecutive blocks of ``factor`` points (NaN-aware) with propagated errors."""
    n_blocks = math.ceil(values.size / factor)
    pad = n_blocks * factor - values.size

    def blocks(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a, np.full(pad, np.nan)]).reshape(n_blocks, factor)

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


def _curve_segments(curve: "LightCurve", max_points: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(hours, value, error) per visit, block-averaged so the curve has at most ~``max_points`` points."""
    hours = np.asarray(curve.hours, dtype=float)
    value = np.asarray(curve.value, dtype=float)
    error = np.asarray(curve.error, dtype=float)
    visit = np.broadcast_to(np.asarray(curve.visit if curve.visit is not None else 0), hours.shape)
    factor = max(1, math.ceil(hours.size / max_points))
    segments = []
    for v in np.unique(visit):
        rows = np.flatnonzero(visit == v)
        h, val, err = hours[rows], value[rows], error[rows]
        if factor > 1:
            h, val, err = _block_mean(val, err, h, factor)
        segments.append((h, val, err))
    return segments


def _join_with_gaps(parts: Sequence[np.ndarray]) -> np.ndarray:
    """Concatenate with a NaN between parts: Plotly breaks the line there."""
    out: list[np.ndarray] = []
    for i, part in enumerate(parts):
        if i:
            out.append(np.array([np.nan]))
        out.append(part)
    return np.concatenate(out) if out else np.empty(0)


def _rgba(colour: str, alpha: float) -> str:
    r, g, b = pcolors.hex_to_rgb(colour) if colour.startswith("#") else pcolors.unlabel_rgb(colour)
    return f"rgba({int(r)},{int(g)},{int(b)},{alpha})"


def _curve_unit_label(curve: "LightCurve") -> tuple[str, str]:
    unit = u.Unit(curve.unit) if curve.unit is not None else u.dimensionless_unscaled
    if unit == u.percent:
        return "Variability (%)", "%"
    text = "" if unit == u.dimensionless_unscaled else unit.to_string()
    return (f"Flux ({text})" if text else "Flux"), text


def _curves_time_label(curves: Sequence["LightCurve"]) -> str:
    return curves[0].time_label if curves else "Time, hours"


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
        From :func:`stamp_engine.processing.white_light_curve` / ``band_light_curve``.
    title : str, optional
    time_label : str, optional
        x-axis label, e.g. ``cube.time_label``; default the curves' own
        (``time_label`` or ``time_standard`` attribute), else inferred from the time
        scale ("Time (BJD_TDB − t0), hours" for TDB, "Time (MJD_UTC − t0), hours" for UTC).
    max_points : int
        Longer curves are block-averaged (within each visit, errors propagated) to
        at most about this many points, keeping the figure small.

    Returns
    -------
    plotly.graph_objects.Figure
        Per curve a ``fill="toself"`` ribbon trace (meta role "error-ribbon") and a
        line trace (meta role "light-curve"); visits are separated by NaN breaks, so no
        line or ribbon bridges a visit gap.
    """
    fig = go.Figure()
    y_label, _ = _curve_unit_label(curves[0]) if curves else ("Variability (%)", "%")
    for i, curve in enumerate(curves):
        colour = _WHITE_LIGHT_COLOUR if i == 0 else _CURVE_COLOURS[(i - 1) % len(_CURVE_COLOURS)]
        _, unit = _curve_unit_label(curve)
        segments = _curve_segments(curve, max_points)
        ribbon_parts = []
        for h, val, err in segments:
            ok = np.isfinite(h) & np.isfinite(val) & np.isfinite(err)
            h, lo, hi = h[ok], (val - err)[ok], (val + err)[ok]
            if h.size:
                ribbon_parts.append((np.concatenate([h, h[::-1]]), np.concatenate([hi, lo[::-1]])))
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
                name=f"{curve.name} ±1σ",
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
                name=curve.name,
                hovertemplate=f"t = %{{x:.4f}} h<br>%{{y:.4g}}{unit_text} ± %{{customdata:.3g}}{unit_text}<extra>{curve.name}</extra>",
                meta={"role": "light-curve", "curve": curve.name},
            )
        )
    if time_label is None:
        time_label = _curves_time_label(curves)
    fig.update_layout(
        template=_TEMPLATE,
        title={"text": title or "Light curves"},
        xaxis={"title": {"text": time_label}},
        yaxis={"title": {"text": y_label}},
        hovermode="closest",
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 70, "r": 20, "t": 50, "b": 60},
        uirevision="stamp",
    )
    return fig


# ---------------------------------------------------------------------- spectra
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


def _spectrum_title(cube: Cube, row: int, hours: float) -> str:
    visit = f", visit {int(cube.visit[row]) + 1}" if cube.n_visits > 1 else ""
    return (
        f"{cube.target} — integration {int(cube.integration[row])}{visit}, "
        f"t = {hours:.4f} h ({cube.time_standard} {cube.time[row].mjd:.6f})"
    )


def _spectrum_traces(wavelength: np.ndarray, flux: np.ndarray, error: np.ndarray, reference: np.ndarray, unit: str) -> list[go.Scatter]:
    unit_text = f" {unit}" if unit else ""
    w = _f32(wavelength)
    return [
        go.Scatter(
            x=np.concatenate([w, w[::-1]]),
            y=_f32(np.concatenate([flux + error, (flux - error)[::-1]])),
            fill="toself",
            fillcolor="rgba(31,119,180,0.25)",
            line={"width": 0, "color": "rgba(31,119,180,0)"},
            hoverinfo="skip",
            name="±1σ",
            meta={"role": "error-ribbon"},
        ),
        go.Scatter(
            x=w,
            y=_f32(flux),
            customdata=_f32(error),
            mode="lines",
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
            name="Reference",
            hovertemplate=f"λ = %{{x:.4f}} µm<br>%{{y:.4g}}{unit_text}<extra>reference</extra>",
            meta={"role": "reference"},
        ),
    ]


def _spectrum_layout(unit: str) -> dict:
    return {
        "template": _TEMPLATE,
        "xaxis": {"title": {"text": WAVELENGTH_LABEL}},
        "yaxis": {"title": {"text": f"Flux ({unit})" if unit else "Flux"}},
        "legend": {"orientation": "h", "y": -0.2},
        "margin": {"l": 70, "r": 20, "t": 50, "b": 60},
    }


def spectrum_figure(cube: Cube, index: int) -> go.Figure:
    """The spectrum of integration row ``index`` with its ±1σ band and its visit's reference.

    A normalized cube is shown back in flux: ``reference · (1 + variability/100)`` in
    ``cube.reference_unit`` next to the visit's reference spectrum; otherwise the flux
    next to the visit's median spectrum. Full wavelength resolution.
    """
    if not -cube.n_integrations <= index < cube.n_integrations:
        raise IndexError(f"integration row {index} is outside 0…{cube.n_integrations - 1}")
    row = index % cube.n_integrations
    visit = int(cube.visit[row])
    reference = _reference_of_visit(cube, visit)
    flux, error, unit = _in_flux(cube, cube.flux[row], cube.error[row], reference)
    fig = go.Figure(_spectrum_traces(cube.wavelength, flux, error, reference, unit))
    fig.update_layout(title={"text": _spectrum_title(cube, row, float(cube.hours[row]))}, **_spectrum_layout(unit))
    return fig


def spectrum_player_figure(cube: Cube, max_frames: int = 200, *, max_wavelength: int = MAX_DISPLAY_WAVELENGTH) -> go.Figure:
    """Animated spectrum: Plotly frames with a slider and play/pause buttons.

    Frames are the cube binned in time to at most ``max_frames`` steps (each frame is
    the mean of consecutive integrations, none dropped) and in wavelength to
    ``max_wavelength`` columns; frame data are float32.
    """
    shown = display_cube(cube, max_time=max_frames, max_wavelength=max_wavelength)
    references = _visit_reference(shown)
    row_reference = references[np.minimum(shown.visit, len(references) - 1)]
    flux, error, unit = _in_flux(shown, shown.flux, shown.error, row_reference)
    hours = _hours_since(shown.time, cube.t0)
    ribbon = _f32(np.concatenate([flux + error, (flux - error)[:, ::-1]], axis=1))
    line, reference = _f32(flux), _f32(row_reference)
    # frames carry only what changes: the y values of ribbon, spectrum and reference
    frames = [
        go.Frame(
            name=str(i),
            data=[{"y": ribbon[i]}, {"y": line[i]}, {"y": reference[i]}],
            traces=[0, 1, 2],
            layout={"title": {"text": _spectrum_title(shown, i, float(hours[i]))}},
        )
        for i in range(shown.n_integrations)
    ]
    fig = go.Figure(
        data=_spectrum_traces(shown.wavelength, flux[0], error[0], row_reference[0], unit) if shown.n_integrations else [],
        frames=frames,
    )
    finite = np.concatenate([(flux - error)[np.isfinite(flux - error)], (flux + error)[np.isfinite(flux + error)]])
    layout = _spectrum_layout(unit)
    if finite.size:
        lo, hi = np.percentile(finite, [0.1, 99.9])
        pad = 0.05 * (hi - lo or 1.0)
        layout["yaxis"]["range"] = [float(lo - pad), float(hi + pad)]
    frame_args = {"frame": {"duration": 80, "redraw": False}, "mode": "immediate", "transition": {"duration": 0}}
    fig.update_layout(
        title={"text": _spectrum_title(shown, 0, float(hours[0])) if shown.n_integrations else cube.target},
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
                "currentvalue": {"prefix": "t = ", "suffix": " h"},
                "steps": [
                    {"label": f"{hours[i]:.3f}", "method": "animate", "args": [[str(i)], frame_args]}
                    for i in range(shown.n_integrations)
                ],
            }
        ],
        **layout,
    )
    fig.update_layout(margin={"b": 130})
    return fig


# ------------------------------------------------------------------------ sizes
def figure_nbytes(fig: go.Figure) -> int:
    """Size in bytes of the figure's JSON, as sent to a browser or written into HTML."""
    return len(fig.to_json().encode("utf-8"))
