"""What every figure of a cube shares: display resolution, float32 arrays, the value scale and its
names and units, titles, the page template, and the figure-size budget.

Size and speed: figures are built from a cube reduced to display resolution by
:func:`display_cube` (binning, never dropping samples) and every array goes into the
figure as float32, which Plotly serializes as a base64 typed array
(``{"dtype": "f4", "bdata": …}``): a 10,000 × 2,040 two-visit cube becomes figures of
a few MB that rotate and hover smoothly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import astropy.units as u
import numpy as np
import plotly.colors as pcolors
import plotly.graph_objects as go

from ..colour import STRETCHES, asinh_softening, stretch_values
from ..statistics import true_runs
from ..cube import Cube

if TYPE_CHECKING:
    from astropy.time import Time


#: Display resolution: a surface of this many vertices per figure rotates smoothly in a browser.
MAX_DISPLAY_TIME = 600
MAX_DISPLAY_WAVELENGTH = 500
#: Upper bound on the JSON of any figure built here.
FIGURE_BUDGET_BYTES = 5 * 1024 * 1024

WAVELENGTH_LABEL = "Wavelength (µm)"
_TEMPLATE = "plotly_white"


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
    from ..steps.binning import bin as bin_cube

    return bin_cube(cube, time=time_factor, wavelength=wavelength_factor, method="mean")


def _hours_since(time: "Time", t0: "Time") -> np.ndarray:
    """Hours of ``time`` since ``t0``; figures of a binned cube keep the full cube's t0."""
    return (time.mjd - t0.mjd) * 24.0


def _f32(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float32)


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


def _rgba(colour: str, alpha: float) -> str:
    r, g, b = pcolors.hex_to_rgb(colour) if colour.startswith("#") else pcolors.unlabel_rgb(colour)
    return f"rgba({int(r)},{int(g)},{int(b)},{alpha})"


#: Automatic z range of a 3D surface, and y range of the spectrum player: the robust colour
#: limits (good wavelengths only, :func:`stamp_engine.colour.robust_colour_limits`) widened by
#: this fraction of their span on each side, so noisy edge columns do not flatten the data.
SURFACE_Z_PAD = 0.25
SPECTRUM_Y_PAD = 0.25


#: Fill of the spectrum's ±1σ band: the line colour rgb(31,119,180), light but plainly visible.
SPECTRUM_BAND_FILL = "rgba(31,119,180,0.3)"


def error_band_polygons(x: np.ndarray, value: np.ndarray, error: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ±1σ band of a curve as ``fill="toself"`` coordinates: one closed polygon per run of
    points where ``x``, ``value`` and ``error`` are all finite, NaN between polygons.

    A single forward/backward polygon with NaN inside makes Plotly close the wrong vertices
    (a wedge that does not follow the curve); one polygon per run leaves gaps where there are
    no data. The browser rebuilds it the same way (``bandPolygons`` in the assets' JS).
    """
    x, value, error = (np.asarray(a, dtype=float) for a in (x, value, error))
    starts, stops = true_runs(np.isfinite(x) & np.isfinite(value) & np.isfinite(error))
    if starts.size == 0:
        return np.empty(0), np.empty(0)
    # per run: forward indices (upper edge), backward indices (lower edge), -1 for the NaN separator
    index = np.concatenate([np.r_[np.arange(a, b), np.arange(b - 1, a - 1, -1), -1] for a, b in zip(starts, stops)])[:-1]
    upper = np.concatenate([np.r_[np.ones(b - a, bool), np.zeros(b - a + 1, bool)] for a, b in zip(starts, stops)])[:-1]
    gap = index < 0
    safe = np.where(gap, 0, index)
    band_x = np.where(gap, np.nan, x[safe])
    band_y = np.where(gap, np.nan, np.where(upper, value[safe] + error[safe], value[safe] - error[safe]))
    return band_x, band_y


def _padded(limits: tuple[float, float] | None, fraction: float) -> tuple[float, float] | None:
    if limits is None:
        return None
    low, high = limits
    pad = fraction * (high - low)
    return low - pad, high + pad


def figure_nbytes(fig: go.Figure) -> int:
    """Size in bytes of the figure's JSON, as sent to a browser or written into HTML."""
    return len(fig.to_json().encode("utf-8"))
