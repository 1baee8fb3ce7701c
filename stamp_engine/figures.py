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
(:func:`band_columns`). ``stamp_engine/web/stamp_bands.js`` highlights a band in the browser: opaque
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
from .colour import STRETCHES, asinh_softening, centred_colorscale, centring_stops, robust_colour_limits, stretch_ticks, stretch_values
from .timeaxis import TimeRows, time_gaps, time_rows, visits_side_by_side
from .cube import Cube
from .labels import interpolated_flags
from .statistics import nanmedian_over_time

if TYPE_CHECKING:
    from astropy.time import Time

    from .steps.light_curves import LightCurve

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
#: The 3D surface's grid: at most about this many vertices along time and along
#: wavelength, whatever the display resolution.  The surface is for the shape (the
#: heatmap, at display resolution, for the detail), and software WebGL draws and
#: re-colours a surface in time proportional to its vertices (headless Chromium on a
#: loaded 2-core machine: a band highlight of 600 × 500 took 6–7 s, of 200 × 250 1–3 s).
SURFACE_MAX_TIME = 200
SURFACE_MAX_WAVELENGTH = 250
#: Right margin of a heatmap (px): room for the colour bar whatever its tick labels, so that a new
#: colour range (other labels) does not resize the plot, which would make plotly.js redraw every cell.
HEATMAP_RIGHT_MARGIN = 140
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

    Uses :func:`stamp_engine.steps.binning.bin` (mean) with integer factors
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
    from .steps.binning import bin as bin_cube

    return bin_cube(cube, time=time_factor, wavelength=wavelength_factor, method="mean")


def surface_grid(max_time: int = MAX_DISPLAY_TIME, max_wavelength: int = MAX_DISPLAY_WAVELENGTH) -> tuple[int, int]:
    """The (time, wavelength) limits a 3D surface is binned to for display limits ``max_time`` × ``max_wavelength``:
    those, capped at :data:`SURFACE_MAX_TIME` × :data:`SURFACE_MAX_WAVELENGTH`."""
    return min(max_time, SURFACE_MAX_TIME), min(max_wavelength, SURFACE_MAX_WAVELENGTH)


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
    """The trace meta ``stamp_engine/web/stamp_bands.js`` highlights from (see the module docstring);
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


@dataclass(frozen=True)
class _ValueScale:
    """What the colour (and a surface's height) stands for: the values, stretched for raw flux."""

    name: str
    unit: str
    stretch: str = "linear"
    softening: float = 1.0

    @property
    def label(self) -> str:
        """Colour-bar / z-axis title, naming the stretch."""
        text = f"{self.name} ({self.unit})" if self.unit else self.name
        return text if self.stretch == "linear" else f"{text}, {self.stretch} stretch"

    @property
    def hover_name(self) -> str:
        unit = f" / {self.unit}" if self.unit else ""
        if self.stretch == "log":
            return f"log₁₀({self.name}{unit})"
        if self.stretch == "asinh":
            return f"asinh({self.name} / {self.softening:.3g}{' ' + self.unit if self.unit else ''})"
        return self.name

    def apply(self, values: np.ndarray) -> np.ndarray:
        return stretch_values(values, self.stretch, self.softening)


def _value_scale(cube: Cube, shown: Cube, stretch: str) -> _ValueScale:
    name, unit = _value_name_and_unit(cube)
    if stretch not in STRETCHES:
        raise ValueError(f"stretch must be one of {', '.join(STRETCHES)}, not {stretch!r}")
    if stretch != "linear" and cube.is_normalized:
        raise ValueError(f"a {stretch} stretch is for raw flux; variability (%) is drawn linearly, centred on 0")
    softening = asinh_softening(shown.flux) if stretch == "asinh" else 1.0
    return _ValueScale(name, unit, stretch, softening)


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


def _coloraxis(cube: Cube, scale_name: str, limits: tuple[float, float] | None, scale: _ValueScale | None = None) -> dict:
    scale = scale or _ValueScale(*_value_name_and_unit(cube))
    colours = colorscale(scale_name)
    if cube.is_normalized and scale_name in DIVERGING_COLORSCALES and limits is not None:
        # Plotly ignores cmid once cmin/cmax are set: move the centre colour to 0 instead
        colours = centred_colorscale(colours, *limits)
    axis: dict = {"colorscale": colours, "colorbar": {"title": {"text": scale.label, "side": "right"}}}
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
    is re-coloured in the browser: stretched ranges need the server).
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
    }


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


def plain_text(text: str) -> str:
    """``text`` from a file or a user, made safe for Plotly's text: markup shows as typed, never as a link.

    Plotly renders a subset of HTML in titles, legends and hover labels (``<a href>``
    becomes a clickable link); its entities ``&lt; &gt; &amp;`` show as the characters.
    """
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _display_name(cube: Cube) -> str:
    """What to call the data in a title: the target, else what is known (instrument, file)."""
    if cube.meta.get("target"):
        return plain_text(cube.target)
    instrument = " ".join(str(cube.meta[k]) for k in ("instrument", "detector") if cube.meta.get(k))
    source = cube.sources[0] if len(cube.sources) == 1 else (f"{cube.sources[0]} and {len(cube.sources) - 1} more" if cube.sources else "")
    known = ", ".join(part for part in (instrument, source) if part)
    return plain_text(f"{known} (no target name)") if known else "Unnamed observation (no target name)"


def _title(cube: Cube, title: str | None, what: str) -> str:
    return title if title is not None else f"{_display_name(cube)} — {what}"


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
        One ``go.Surface`` per visit (see module docstring) on one shared
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
        margin={"l": 10 if kind == "surface" else 70, "r": 10 if kind == "surface" else HEATMAP_RIGHT_MARGIN,
                "t": 50, "b": 10 if kind == "surface" else 60},
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


# ------------------------------------------------------- gaps, interpolated rows, visit panels
#: Colour of map cells without data (gaps in time, NaN values): the plot background.
GAP_COLOUR = "rgb(205,205,205)"
#: Veil over interpolated rows of a map: they look lighter than measured ones.
INTERPOLATED_VEIL = "rgba(255,255,255,0.55)"


#: Colour under the map's masked columns: no hue, darker than the gaps, so it reads as neither data nor a gap.
MASK_COLOUR = "rgb(64,64,64)"
#: A wavelength column is masked when at least this fraction of a visit's integrations is NaN there.
MASKED_FRACTION = 0.5


def _runs(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop (exclusive) indices of each run of True in a 1-D boolean array."""
    steps = np.diff(np.concatenate([[0], np.asarray(flags, dtype=np.int8), [0]]))
    return np.flatnonzero(steps == 1), np.flatnonzero(steps == -1)


def masked_columns(values: np.ndarray, fraction: float = MASKED_FRACTION) -> np.ndarray:
    """Per wavelength column of ``values`` (time × wavelength), True when ≥ ``fraction`` of it is NaN.

    The loaders turn flagged pixels (DQ ``DO_NOT_USE``, Eureka! masks) into NaN, and so
    does :meth:`Cube.clip`: a column mostly NaN is a dead or flagged one.
    """
    values = np.asarray(values)
    if values.size == 0:
        return np.zeros(values.shape[-1] if values.ndim else 0, dtype=bool)
    return np.mean(~np.isfinite(values), axis=0) >= fraction


def masked_column_rects(values: np.ndarray, edges: np.ndarray, hours: tuple[float, float],
                        axes: Mapping[str, str]) -> list[dict]:
    """Layout rectangles in :data:`MASK_COLOUR` under each run of :func:`masked_columns` of one visit.

    Drawn below the map: its cells with data stay visible, its NaN cells show the mask.
    """
    masked = masked_columns(values)
    if not masked.any():
        return []
    starts, stops = _runs(masked)
    xref, yref = axes.get("xaxis", "x"), axes.get("yaxis", "y")
    return [
        {"type": "rect", "xref": xref, "yref": yref, "x0": float(edges[a]), "x1": float(edges[b]),
         "y0": hours[0], "y1": hours[1], "fillcolor": MASK_COLOUR, "line": {"width": 0}, "layer": "below",
         "name": "masked"}
        for a, b in zip(starts, stops)
    ]


def interpolated_rows(cube: Cube) -> np.ndarray:
    """Per row, True when ``interpolate_gaps`` made it (or it is a bin holding such a row)."""
    flags = interpolated_flags(cube)
    return flags if flags is not None else np.zeros(cube.n_integrations, dtype=bool)


def _interpolated_veils(rows: TimeRows, interpolated: np.ndarray, axes: Mapping[str, str]) -> list[dict]:
    """Layout rectangles lightening each run of interpolated rows of one visit panel."""
    made = np.zeros(rows.take.size, dtype=bool)
    made[rows.take >= 0] = interpolated[rows.take[rows.take >= 0]]
    if not made.any():
        return []
    starts, stops = _runs(made)
    xref = axes.get("xaxis", "x")
    yref = axes.get("yaxis", "y")
    return [
        {"type": "rect", "xref": f"{xref} domain", "yref": yref, "x0": 0, "x1": 1,
         "y0": float(rows.edges[a]), "y1": float(rows.edges[b]), "fillcolor": INTERPOLATED_VEIL,
         "line": {"width": 0}, "layer": "above", "name": "interpolated"}
        for a, b in zip(starts, stops)
    ]


def _panel_axes(visit: int) -> dict[str, str]:
    """Trace axes of a visit's panel when visits are side by side (visit 0 on x / y)."""
    suffix = "" if visit == 0 else str(visit + 1)
    return {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}


def _visit_panels_layout(shown: Cube, hours: np.ndarray, time_standard: str) -> dict:
    """Axes of a map with one panel per visit, side by side, each in hours since its visit's start."""
    n = shown.n_visits
    gap = 0.04
    width = (1.0 - gap * (n - 1)) / n
    layout: dict = {}
    annotations = []
    for v in range(n):
        suffix = "" if v == 0 else str(v + 1)
        left = v * (width + gap)
        layout[f"xaxis{suffix}"] = {"domain": [left, left + width], "anchor": f"y{suffix}",
                                    "title": {"text": WAVELENGTH_LABEL}}
        layout[f"yaxis{suffix}"] = {"anchor": f"x{suffix}",
                                    "title": {"text": f"Time since visit start ({time_standard}), hours" if v == 0 else ""}}
        start = float(hours[np.flatnonzero(shown.visit == v)[0]])
        annotations.append({"text": f"Visit {v + 1}: starts {start:.2f} h after t0", "showarrow": False,
                            "xref": f"x{suffix} domain", "yref": "paper", "x": 0.5, "y": 1.0,
                            "xanchor": "center", "yanchor": "bottom", "font": {"size": 12}})
    layout["annotations"] = annotations
    return layout


# ------------------------------------------------------------------ light curves
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


def _curve_segments(curve: "LightCurve", max_points: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, bool]]:
    """(hours, value, error, interpolated) per run of the curve, block-averaged to at most ~``max_points`` points.

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
        segments.append((h, val, err, bool(made[a])))
    return segments


def _interpolated_curve_trace(name: str, colour: str, unit_text: str, parts, group: str) -> go.Scatter:
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
        hovertemplate=f"t = %{{x:.4f}} h<br>%{{y:.4g}}{unit_text} (interpolated, no error)<extra>{name}</extra>",
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
        From :func:`stamp_engine.steps.light_curves.white_light_curve` / ``band_light_curve``.
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
        line trace (meta role "light-curve") of the measured points; visits and time
        gaps longer than a few cadences (:func:`stamp_engine.timeaxis.time_gaps`) are
        separated by NaN breaks, so no line or ribbon bridges a gap.  Points made by
        ``interpolate_gaps`` form a dotted, lighter trace (meta role "interpolated")
        without ribbon or error.
    """
    fig = go.Figure()
    y_label, _ = _curve_unit_label(curves[0]) if curves else ("Variability (%)", "%")
    for i, curve in enumerate(curves):
        colour = _WHITE_LIGHT_COLOUR if i == 0 else _CURVE_COLOURS[(i - 1) % len(_CURVE_COLOURS)]
        _, unit = _curve_unit_label(curve)
        all_segments = _curve_segments(curve, max_points)
        segments = [s[:3] for s in all_segments if not s[3]]
        filled = [s[:3] for s in all_segments if s[3]]
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
                hovertemplate=(f"t = %{{x:.4f}} h<br>%{{y:.4g}}{unit_text} ± %{{customdata:.3g}}{unit_text}"
                               f"<extra>{plain_text(curve.name)}</extra>"),
                meta={"role": "light-curve", "curve": curve.name},
            )
        )
        if filled:
            fig.add_trace(_interpolated_curve_trace(curve.name, colour, unit_text, filled, group))
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
            "reference": b64(self.reference), "visit": [int(v) for v in self.visit],
            "titles": [self.title(i) for i in range(self.n_frames)], "mode": self.mode,
        }


def _hour_digits(hours: np.ndarray) -> int:
    """Decimals that tell consecutive rows apart (2 for minutes-long bins, more for seconds)."""
    steps = np.diff(hours)
    steps = steps[np.isfinite(steps) & (steps > 0)]
    if steps.size == 0:
        return 2
    return int(np.clip(math.ceil(-math.log10(float(np.median(steps)))) + 1, 2, 5))


def frame_labels(cube: Cube) -> tuple[str, ...]:
    """One label per row of ``cube``, numbered from 1, saying which integrations and times it averages.

    "bin 3 of 600: integrations 9–12, 2.41–2.43 h" for a binned row (from
    :func:`stamp_engine.labels.row_spans`), "frame 3 of 600: integration 9, 2.41 h"
    for one integration; the visit is named when there are several, and rows made by
    interpolation say so.
    """
    from .labels import INTERPOLATED_KEY, row_spans

    n = cube.n_integrations
    if n == 0:
        return ()
    spans = row_spans(cube)
    first, last = spans[:, 0].astype(np.int64), spans[:, 1].astype(np.int64)
    h0, h1 = (spans[:, 2] - cube.t0_mjd) * 24.0, (spans[:, 3] - cube.t0_mjd) * 24.0
    digits = _hour_digits(cube.hours)
    flags = cube.meta.get(INTERPOLATED_KEY)
    interpolated = np.asarray(flags, dtype=bool) if flags is not None and np.shape(flags) == (n,) else np.zeros(n, bool)
    labels = []
    for i in range(n):  # text per frame: one short string each, not a numeric hot path
        if last[i] > first[i]:
            text = f"bin {i + 1} of {n}: integrations {first[i]}–{last[i]}, {h0[i]:.{digits}f}–{h1[i]:.{digits}f} h"
        else:
            text = f"frame {i + 1} of {n}: integration {first[i]}, {h0[i]:.{digits}f} h"
        if cube.n_visits > 1:
            text += f", visit {int(cube.visit[i]) + 1}"
        if interpolated[i]:
            text += " (interpolated)"
        labels.append(text)
    return tuple(labels)


#: Automatic z range of a 3D surface, and y range of the spectrum player: the robust colour
#: limits (good wavelengths only, :func:`stamp_engine.colour.robust_colour_limits`) widened by
#: this fraction of their span on each side, so noisy edge columns do not flatten the data.
SURFACE_Z_PAD = 0.25
SPECTRUM_Y_PAD = 0.25


def _padded(limits: tuple[float, float] | None, fraction: float) -> tuple[float, float] | None:
    if limits is None:
        return None
    low, high = limits
    pad = fraction * (high - low)
    return low - pad, high + pad


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
        target=_display_name(cube),
    )


def _spectrum_traces(frames: SpectrumFrames, index: int) -> list[go.Scatter]:
    unit_text = f" {frames.unit}" if frames.unit else ""
    w = _f32(frames.wavelength)
    value, error = frames.value[index], frames.error[index]
    reference = frames.reference[min(int(frames.visit[index]), len(frames.reference) - 1)]
    reference_name = "0 % (the visit's reference)" if frames.mode == "variability" else "Reference (visit median)"
    return [
        go.Scatter(
            x=np.concatenate([w, w[::-1]]),
            y=_f32(np.concatenate([value + error, (value - error)[::-1]])),
            fill="toself",
            fillcolor="rgba(31,119,180,0.25)",
            line={"width": 0, "color": "rgba(31,119,180,0)"},
            hoverinfo="skip",
            name="±1σ",
            meta={"role": "error-ribbon"},
        ),
        go.Scatter(
            x=w,
            y=_f32(value),
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
            name=reference_name,
            hovertemplate=f"λ = %{{x:.4f}} µm<br>%{{y:.4g}}{unit_text}<extra>reference</extra>",
            meta={"role": "reference"},
        ),
    ]


def _spectrum_layout(frames: SpectrumFrames, index: int) -> dict:
    yaxis: dict = {"title": {"text": frames.y_label}}
    if frames.y_range is not None:
        yaxis["range"] = list(frames.y_range)
    return {
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
    ribbon = _f32(np.concatenate([frames.value + frames.error, (frames.value - frames.error)[:, ::-1]], axis=1))
    references = frames.reference[np.minimum(frames.visit, len(frames.reference) - 1)] if n else frames.reference
    # frames carry only what changes: the y values of ribbon, spectrum and reference
    plotly_frames = [
        go.Frame(
            name=str(i + 1),
            data=[{"y": ribbon[i]}, {"y": frames.value[i]}, {"y": references[i]}],
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


# ------------------------------------------------------------------------ sizes
def figure_nbytes(fig: go.Figure) -> int:
    """Size in bytes of the figure's JSON, as sent to a browser or written into HTML."""
    return len(fig.to_json().encode("utf-8"))
