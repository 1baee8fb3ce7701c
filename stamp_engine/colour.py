"""Colour rules of the maps: automatic limits, diverging scales centred on 0, stretches of raw flux.

Shared by every figure (dashboard, standalone HTML) so that what a user sees is
decided in one place.

Automatic limits (:func:`robust_colour_limits`)
    Come from the wavelengths where the data are good, not from every pixel: a
    few noisy edge columns (a detector edge, the faint end of a prism) would
    otherwise set the limits to ±hundreds of percent and paint the real signal
    white.  Per column the robust scatter over time (1.4826 × MAD) is measured;
    NaN-heavy columns and columns noisier than a few times the typical column are
    left out; the limits cover the remaining pixels (the 99.5th percentile of
    |value|, symmetric about 0 for variability) but never exceed 5 robust standard
    deviations of them, so a handful of outlying pixels (cosmic rays, a first
    integration still settling) saturate instead of washing out the map.

Zero at the centre colour (:func:`centred_colorscale`)
    Plotly ignores ``cmid`` once ``cmin``/``cmax`` are given, so an asymmetric
    manual range would put 0 % off the scale's white.  The scale is remapped
    instead: its lower half spans ``cmin…0`` and its upper half ``0…cmax``.  The rule
    is written once, as data (:func:`centring_stops`); the dashboard's browser code
    evaluates the same stops for a range typed in the page.

Saturation (:func:`beyond_fraction`, :func:`clip_note`)
    Cells beyond the colour range are drawn in the scale's end colours, so the colour bar
    says where the range clips and how many cells lie beyond it ("clipped at ±2 %: 3.1 % of
    cells beyond"), for the automatic range and for one a user types (the browser recounts).

Stretches (:func:`stretch_values`)
    Raw flux may span orders of magnitude across a spectrum; ``"log"`` (log₁₀,
    flux ≤ 0 not drawn) and ``"asinh"`` (linear below the noise, logarithmic
    above) transform the displayed values, and :func:`stretch_ticks` labels the
    colour bar with flux values.
"""

from __future__ import annotations


import numpy as np

from .statistics import nanmedian_over_time

#: Columns with fewer finite values than this fraction (over time) are ignored by the limits.
MIN_FINITE_FRACTION = 0.5
#: A column whose robust scatter exceeds this many times the median column's is ignored.
NOISY_COLUMN_FACTOR = 2.0
#: The limits never exceed this many robust standard deviations of the good pixels.
MAX_SIGMAS = 5.0
#: Percentile of the good pixels the limits cover.
LIMIT_PERCENTILE = 99.5
#: 1.4826 × MAD is the standard deviation of Gaussian noise.
MAD_TO_SIGMA = 1.4826

STRETCHES = {"linear": "Linear", "log": "Log₁₀ (flux ≤ 0 not drawn)", "asinh": "Asinh (linear below the noise)"}


def column_scatter(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column (wavelength) of a (time, wavelength) array: median over time and robust scatter.

    Returns
    -------
    centre, scatter : ndarray, shape (n_wavelengths,)
        ``nanmedian`` over time and 1.4826 × the median absolute deviation from it
        (the standard deviation for Gaussian noise); NaN for all-NaN columns.
    """
    values = np.asarray(values, dtype=float)
    centre = nanmedian_over_time(values)
    scatter = MAD_TO_SIGMA * nanmedian_over_time(np.abs(values - centre))
    return centre, scatter


def good_columns(values: np.ndarray, centred: bool) -> np.ndarray:
    """Columns where the data are good enough to set colour limits (boolean, one per column).

    A column is good when at least :data:`MIN_FINITE_FRACTION` of its values are
    finite and its noise level is at most :data:`NOISY_COLUMN_FACTOR` times the
    median column's.  The noise level is the robust scatter for variability
    (``centred``) and the relative scatter (scatter / |median|, i.e. 1/S/N) for flux.
    When no column qualifies, every column with a finite value does.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"expected a (time, wavelength) array, not shape {values.shape}")
    finite = np.isfinite(values)
    has_data = finite.any(axis=0)
    usable = has_data & (finite.mean(axis=0) >= MIN_FINITE_FRACTION) if values.shape[0] else has_data
    if not usable.any():
        return has_data
    centre, scatter = column_scatter(values[:, usable])
    if centred:
        level = scatter
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            level = np.where(centre != 0, scatter / np.abs(centre), np.inf)
    typical = np.median(level[np.isfinite(level)]) if np.isfinite(level).any() else np.nan
    good = usable.copy()
    if np.isfinite(typical):
        good[usable] = np.isfinite(level) & (level <= NOISY_COLUMN_FACTOR * typical)
    return good if good.any() else usable


def robust_colour_limits(values: np.ndarray, centred: bool) -> tuple[float, float] | None:
    """Automatic colour limits of a (time, wavelength) map from its good wavelengths.

    Parameters
    ----------
    values : ndarray, shape (n_time, n_wavelength)
        What the map shows (variability % or flux), NaN for missing values.
    centred : bool
        Variability: limits symmetric about 0.

    Returns
    -------
    (low, high) or None
        None when no value is finite.  For ``centred``: ±L, L the
        :data:`LIMIT_PERCENTILE` percentile of |value| over the
        :func:`good_columns`, capped at :data:`MAX_SIGMAS` × their robust standard
        deviation about 0.  Otherwise the 0.5 and 99.5 percentiles over the good
        columns.  Never an empty range.
    """
    values = np.asarray(values, dtype=float)
    if not np.isfinite(values).any():
        return None
    good = values[:, good_columns(values, centred)]
    good = good[np.isfinite(good)]
    if centred:
        magnitude = np.abs(good)
        limit = float(np.percentile(magnitude, LIMIT_PERCENTILE))
        cap = MAX_SIGMAS * MAD_TO_SIGMA * float(np.median(magnitude))
        if cap > 0:
            limit = min(limit, cap)
        if not limit > 0:
            limit = float(np.max(magnitude)) or 1.0
        return -limit, limit
    low, high = (float(v) for v in np.percentile(good, [100.0 - LIMIT_PERCENTILE, LIMIT_PERCENTILE]))
    if low == high:
        low, high = low - 0.5, high + 0.5
    return low, high


# ------------------------------------------------------------ saturation
def beyond_fraction(values: np.ndarray, low: float, high: float) -> float:
    """Fraction of the finite ``values`` outside ``low…high``: the cells a map draws in its end colours.

    NaN when no value is finite.  The browser counts the same cells of the drawn map
    for a colour range typed in the page (``clipFraction`` in ``assets/stamp_dashboard.js``).
    """
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    n = int(np.count_nonzero(finite))
    if n == 0:
        return float("nan")
    with np.errstate(invalid="ignore"):
        beyond = np.count_nonzero(finite & ((values < low) | (values > high)))
    return beyond / n


def _number(value: float) -> str:
    return f"{value:.3g}".replace("-", "−")


def clip_note(low: float, high: float, fraction: float, unit: str = "") -> str:
    """What a colour bar says about saturation: the colour range and the fraction of cells beyond it.

    ``"clipped at ±2 %: 3.1 % of cells beyond"`` for a range symmetric about 0, else
    ``"clipped at −0.3…0.9 %: …"``; below 0.1 % the fraction reads ``"< 0.1 %"``, and a
    range that holds every cell says ``"0 %"``; with no finite cell (``fraction`` NaN) only the
    range is given.  The browser writes the same text
    (``clipNote`` in ``assets/stamp_dashboard.js``; a test compares the two).
    """
    unit_text = f" {unit}" if unit else ""
    span = f"±{_number(high)}" if np.isclose(low, -high, rtol=1e-6, atol=0.0) else f"{_number(low)}…{_number(high)}"
    if not np.isfinite(fraction):
        return f"clipped at {span}{unit_text}"
    if fraction == 0:
        share = "0 %"
    elif fraction < 0.001:
        share = "< 0.1 %"
    else:
        share = f"{100.0 * fraction:.1f} %"
    return f"clipped at {span}{unit_text}: {share} of cells beyond"


# ------------------------------------------------------------ diverging scales
def centring_stops(scale: list[list]) -> list[list]:
    """The rule of :func:`centred_colorscale` as data: each stop of ``scale`` as ``[a, b, colour]``.

    On a colour range where 0 sits at position ``z`` (0…1, :func:`zero_position`), the
    stop is at ``a + b·z``: a lower-half stop (position p < 0.5) at ``2p·z`` (spread
    over ``low…0``), the scale's centre colour at ``z``, an upper-half stop at
    ``z + (2p − 1)(1 − z)`` (spread over ``0…high``).  The browser re-colours a map
    for a typed range by evaluating these (``assets/stamp_dashboard.js``), so the
    rule has this one implementation.

    Parameters
    ----------
    scale : list of [position, colour]
        Explicit Plotly colour scale, positions ascending from 0 to 1.
    """
    import plotly.colors as pcolors

    stops = [(float(p), c) for p, c in scale]
    centre = pcolors.sample_colorscale([list(s) for s in stops], [0.5])[0]
    out: list[list] = [[0.0, 2.0 * p, c] for p, c in stops if p < 0.5]
    out.append([0.0, 1.0, centre])
    out += [[2.0 * p - 1.0, 2.0 - 2.0 * p, c] for p, c in stops if p > 0.5]
    if stops and stops[-1][0] < 1.0:  # a malformed scale: keep its end colour at the end
        out.append([1.0, 0.0, stops[-1][1]])
    return out


def zero_position(low: float, high: float) -> float | None:
    """Where 0 falls on the colour range ``low…high`` (0…1), or None when the scale is left as it is:
    the range does not contain 0 (0 cannot be drawn then; callers say so) or is symmetric about it."""
    if not (low < 0 < high):
        return None
    zero = -low / (high - low)
    return None if np.isclose(zero, 0.5) else float(zero)


def centred_colorscale(scale: list[list], low: float, high: float) -> list[list]:
    """``scale`` remapped so that, on the range ``low…high``, the value 0 gets the scale's centre colour.

    The stops of the lower half (positions ≤ 0.5) are spread over ``low…0`` and those
    of the upper half over ``0…high``; the scale's end colours stay at the ends
    (:func:`centring_stops`).  A range that is symmetric about 0 gives the scale back
    unchanged, and so does one that does not contain 0 (:func:`zero_position`).

    Parameters
    ----------
    scale : list of [position, colour]
        Explicit Plotly colour scale, positions ascending from 0 to 1.
    low, high : float
        Colour range, ``low < high``.
    """
    zero = zero_position(low, high)
    if zero is None:
        return [list(stop) for stop in scale]
    return [[a + b * zero, c] for a, b, c in centring_stops(scale)]


# ------------------------------------------------------------------- stretches
def asinh_softening(values: np.ndarray) -> float:
    """The flux below which an asinh stretch is linear: the median column's noise (robust scatter over time).

    Falls back to 1 % of the largest |flux| when the data have no measurable
    scatter (a single integration)."""
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 1.0
    _, scatter = column_scatter(values)
    noise = float(np.median(scatter[np.isfinite(scatter)])) if np.isfinite(scatter).any() else 0.0
    if not noise > 0:
        noise = 0.01 * float(np.max(np.abs(finite)))
    return noise if noise > 0 else 1.0


def stretch_values(values: np.ndarray, stretch: str, softening: float = 1.0) -> np.ndarray:
    """Displayed values of flux under ``stretch`` ("linear", "log": log₁₀, NaN for flux ≤ 0, "asinh": asinh(flux / softening))."""
    values = np.asarray(values, dtype=float)
    if stretch == "linear":
        return values
    if stretch == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), np.nan)
    if stretch == "asinh":
        return np.arcsinh(values / softening)
    raise ValueError(f"stretch must be one of {', '.join(STRETCHES)}, not {stretch!r}")


def unstretch_values(values: np.ndarray, stretch: str, softening: float = 1.0) -> np.ndarray:
    """Inverse of :func:`stretch_values`."""
    values = np.asarray(values, dtype=float)
    if stretch == "linear":
        return values
    if stretch == "log":
        return 10.0**values
    if stretch == "asinh":
        return np.sinh(values) * softening
    raise ValueError(f"stretch must be one of {', '.join(STRETCHES)}, not {stretch!r}")


def stretch_ticks(low: float, high: float, stretch: str, softening: float = 1.0, n_ticks: int = 6) -> tuple[list[float], list[str]]:
    """Colour-bar ticks for a stretched range ``low…high``: positions (stretched) and flux labels.

    Labels are "nice" flux values (1, 2, 5 × 10ⁿ, their negatives, and 0), about
    ``n_ticks`` of them spread evenly in the stretched space.
    """
    if stretch == "linear" or not low < high:
        return [], []
    flux_low, flux_high = (float(v) for v in unstretch_values(np.array([low, high]), stretch, softening))
    biggest = max(abs(flux_low), abs(flux_high))
    smallest = softening / 10.0 if stretch == "asinh" else max(min(abs(flux_low), abs(flux_high)), biggest * 1e-12)
    exponents = np.arange(np.floor(np.log10(smallest)), np.ceil(np.log10(biggest)) + 1)
    nice = (np.array([1.0, 2.0, 5.0])[None, :] * 10.0 ** exponents[:, None]).ravel()
    candidates = np.concatenate([-nice, [0.0], nice]) if stretch == "asinh" else nice
    candidates = np.unique(candidates[(candidates >= flux_low) & (candidates <= flux_high)])
    if candidates.size == 0:
        return [], []
    positions = stretch_values(candidates, stretch, softening)
    targets = np.linspace(low, high, n_ticks)
    chosen = np.unique([int(np.argmin(np.abs(positions - t))) for t in targets])
    return [float(positions[i]) for i in chosen], [f"{candidates[i]:.3g}" for i in chosen]
