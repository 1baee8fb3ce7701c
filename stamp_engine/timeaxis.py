"""The time axis of maps and light curves: gaps drawn as gaps, and visits side by side.

Rules shared by the heatmap, the surface and the light curves:

* A **gap** is a step between consecutive integrations of one visit longer than
  :data:`GAP_CADENCES` cadences (the visit's median step), or a change of visit.
  Nothing is drawn across a gap, whatever the visit threshold: heatmap rows end
  half a cadence after their integration, light-curve lines break.
* **Visits side by side**: when visits are far apart compared to their length, one
  linear time axis is mostly empty (two 5 h visits a month apart leave each a
  pixel), so each visit gets its own panel with the time since its start.
* **Display unit and t0**: time is kept in hours since t0 (the first integration) and
  drawn in seconds, minutes, hours or days by the span of the series
  (:func:`display_time_unit`); every axis title prints t0's value in its time standard
  (:class:`TimeAxis`), and :func:`cadence_problem` flags implausible times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.time import Time

#: A step longer than this many cadences breaks the map rows and the light-curve lines.
GAP_CADENCES = 3.0

#: How visits share the time axis of a map: choice → what the dashboard shows.
VISIT_LAYOUTS = {
    "auto": "Automatic (side by side when the time axis would be mostly empty)",
    "one axis": "One time axis (time since the first integration)",
    "side by side": "Side by side (time since each visit's start)",
}
#: Automatic layout: visits side by side when they cover less than this fraction of one time axis.
SIDE_BY_SIDE_BELOW = 0.5


def cadence_hours(hours: np.ndarray, visit: np.ndarray | None = None) -> float:
    """Median positive step between consecutive integrations of the same visit (hours); NaN if none."""
    hours = np.asarray(hours, dtype=float)
    steps = np.diff(hours)
    same = np.ones(steps.shape, dtype=bool) if visit is None else np.diff(np.asarray(visit)) == 0
    usable = steps[same & (steps > 0) & np.isfinite(steps)]
    return float(np.median(usable)) if usable.size else float("nan")


def time_gaps(hours: np.ndarray, visit: np.ndarray | None = None, n_cadences: float = GAP_CADENCES) -> np.ndarray:
    """Where the time axis breaks: True at ``i`` when a gap lies between rows ``i`` and ``i + 1``.

    Parameters
    ----------
    hours : ndarray, shape (n,)
        Ascending times of the rows.
    visit : ndarray, shape (n,), optional
        Visit of each row; a change of visit is always a gap.
    n_cadences : float
        A step longer than this many cadences (:func:`cadence_hours`) is a gap.

    Returns
    -------
    ndarray of bool, shape (n - 1,)
    """
    hours = np.asarray(hours, dtype=float)
    steps = np.diff(hours)
    gaps = np.zeros(steps.shape, dtype=bool)
    if visit is not None:
        gaps |= np.diff(np.asarray(visit)) != 0
    cadence = cadence_hours(hours, visit)
    if np.isfinite(cadence):
        gaps |= steps > n_cadences * cadence
    return gaps


@dataclass(frozen=True)
class TimeRows:
    """The rows of one map panel as drawn, with an empty row in every gap.

    Attributes
    ----------
    take : ndarray of int
        For each drawn row, the data row it shows, or -1 for an empty (gap) row.
    centres : ndarray
        Time of each drawn row (hours; a gap row sits in the middle of its gap).
    edges : ndarray
        ``len(take) + 1`` cell edges: a data row spans half a cadence either side of
        its integration (or up to the midpoint with a neighbour closer than that), a
        gap row spans the rest of its gap.
    """

    take: np.ndarray
    centres: np.ndarray
    edges: np.ndarray

    def expand(self, values: np.ndarray) -> np.ndarray:
        """``values`` (rows first) with the drawn rows' order, NaN in the gap rows."""
        values = np.asarray(values, dtype=float)
        out = values[np.maximum(self.take, 0)]
        out[self.take < 0] = np.nan
        return out

    @property
    def gap_rows(self) -> np.ndarray:
        return self.take < 0


def time_rows(hours: np.ndarray, n_cadences: float = GAP_CADENCES) -> TimeRows:
    """Drawn rows of one visit whose rows are at ``hours`` (ascending): see :class:`TimeRows`."""
    hours = np.asarray(hours, dtype=float)
    n = hours.size
    if n == 0:
        return TimeRows(np.empty(0, dtype=np.intp), np.empty(0), np.empty(0))
    cadence = cadence_hours(hours)
    if not np.isfinite(cadence):
        cadence = 1.0  # a single row: one hour tall, as a lone cell has no neighbour to measure
    half = 0.5 * cadence
    gaps = time_gaps(hours, None, n_cadences)
    mid = 0.5 * (hours[1:] + hours[:-1])
    upper = np.append(np.where(gaps, hours[:-1] + half, mid), hours[-1] + half)
    lower = np.insert(np.where(gaps, hours[1:] - half, mid), 0, hours[0] - half)
    after = np.flatnonzero(gaps)
    take = np.insert(np.arange(n), after + 1, -1)
    centres = np.insert(hours, after + 1, 0.5 * (hours[after] + hours[after + 1]))
    # each drawn row's upper edge: its own, or (gap row) the next data row's lower edge
    previous_data_row = np.maximum.accumulate(np.where(take >= 0, take, -1))
    entry_upper = np.where(take >= 0, upper[np.maximum(take, 0)], lower[np.minimum(previous_data_row + 1, n - 1)])
    edges = np.concatenate([[lower[0]], entry_upper])
    return TimeRows(take, centres, edges)


def visits_side_by_side(hours: np.ndarray, visit: np.ndarray, layout: str = "auto") -> bool:
    """Whether a map draws its visits in panels of their own (``layout`` one of :data:`VISIT_LAYOUTS`).

    ``"auto"``: yes when there are several visits and together they cover less than
    :data:`SIDE_BY_SIDE_BELOW` of the time from the first to the last integration.
    """
    if layout not in VISIT_LAYOUTS:
        raise ValueError(f"visit layout must be one of {', '.join(map(repr, VISIT_LAYOUTS))}, not {layout!r}")
    hours = np.asarray(hours, dtype=float)
    visit = np.asarray(visit)
    labels = np.unique(visit)
    if layout == "one axis" or labels.size < 2:
        return False
    if layout == "side by side":
        return True
    cadence = cadence_hours(hours, visit)
    cadence = cadence if np.isfinite(cadence) else 0.0
    covered = sum(float(np.ptp(hours[visit == v])) + cadence for v in labels)
    span = float(hours.max() - hours.min()) + cadence
    return span > 0 and covered / span < SIDE_BY_SIDE_BELOW


# --------------------------------------------------------------- display unit and t0
#: Display units of time since t0, each with the span (last − first integration) below which
#: it is used: seconds for a series under 2 min, minutes under 2 h, hours up to 3 days, then days.
DISPLAY_TIME_UNITS: tuple[tuple[u.UnitBase, u.Quantity], ...] = (
    (u.s, 2 * u.min),
    (u.min, 2 * u.h),
    (u.h, 3 * u.d),
    (u.d, np.inf * u.d),
)

#: A JWST time series whose median cadence lies outside this range (or whose times repeat or go
#: backwards) has implausible times: :func:`cadence_problem` says so.  The lower end is below the
#: shortest integration of any JWST time-series mode (one group of MIRI's SLITLESSPRISM subarray,
#: 0.159 s); a day between integrations is a monitoring campaign, not one time series.
PLAUSIBLE_CADENCE = (0.1 * u.s, 1.0 * u.d)


def display_time_unit(span_hours: float, cadence_hours: float = float("nan")) -> u.UnitBase:
    """The unit time since t0 is drawn in, from the span of the series (see :data:`DISPLAY_TIME_UNITS`).

    Parameters
    ----------
    span_hours : float
        Last minus first time shown (hours); for visits side by side, the longest visit.
    cadence_hours : float
        Median step (hours), used when the span says nothing (one integration: span 0).

    Returns
    -------
    astropy.units.UnitBase
        ``u.s``, ``u.min``, ``u.h`` or ``u.d``; hours when neither span nor cadence is known.
    """
    span = float(span_hours)
    if not (np.isfinite(span) and span > 0):
        span = float(cadence_hours)
    if not (np.isfinite(span) and span > 0):
        return u.h
    span_q = span * u.h
    for unit, below in DISPLAY_TIME_UNITS:
        if span_q < below:
            return unit
    return u.d


def duration_text(hours: float, digits: int = 3) -> str:
    """A duration (hours) in the unit :func:`display_time_unit` picks for it, ``digits`` significant: ``"16.8 d"``."""
    hours = float(hours)
    if not np.isfinite(hours):
        return "unknown"
    unit = display_time_unit(abs(hours))
    return f"{(hours * u.h).to_value(unit):.{digits}g} {unit.to_string()}"


def _t0_number(t0: Time, name: str) -> tuple[str, float]:
    """How a time standard writes t0: BJD and HJD as Julian dates, MJD as a modified Julian date."""
    if name.startswith("MJD"):
        return name, float(t0.mjd)
    return name, float(t0.jd)


@dataclass(frozen=True)
class TimeAxis:
    """How a figure draws time: the unit of its time since t0 and what t0 is.

    Every figure, export and the browser take time since t0 in hours (:attr:`Cube.hours`)
    and draw :meth:`values` in :attr:`unit`; the figure's ``layout.meta["time_axis"]``
    (:meth:`meta`) tells the clientside code how to turn drawn values back into hours.

    Attributes
    ----------
    unit : astropy.units.UnitBase
        Display unit (:func:`display_time_unit`).
    t0 : astropy.time.Time
        The origin: the cube's first integration, in the scale of its times.
    standard : str
        The cube's time-standard label (``"BJD_TDB"``, ``"MJD_UTC (from EXPSTART + cadence)"``).
    since_visit_start : bool
        Each visit's panel counts from its own start (visits side by side).
    cadence_hours : float
        Median step (hours), for the decimals of labels.
    """

    unit: u.UnitBase
    t0: Time
    standard: str = "BJD_TDB"
    since_visit_start: bool = False
    cadence_hours: float = float("nan")

    @property
    def per_hour(self) -> float:
        """Display units in one hour (3600 for seconds)."""
        return float(u.h.to(self.unit))

    @property
    def unit_name(self) -> str:
        """``"s"``, ``"min"``, ``"h"`` or ``"d"``."""
        return self.unit.to_string()

    def values(self, hours: np.ndarray) -> np.ndarray:
        """``hours`` since t0 in the display unit, float64."""
        return np.asarray(hours, dtype=float) * self.per_hour

    def to_hours(self, values: np.ndarray | float) -> np.ndarray | float:
        """Drawn values back in hours since t0."""
        return np.asarray(values, dtype=float) / self.per_hour if np.ndim(values) else float(values) / self.per_hour

    @property
    def digits(self) -> int:
        """Decimals that tell consecutive integrations apart in the display unit (1 to 6)."""
        step = self.cadence_hours * self.per_hour
        if not (np.isfinite(step) and step > 0):
            return 2
        return int(np.clip(math.ceil(-math.log10(step)) + 1, 1, 6))

    def text(self, hours: float, digits: int | None = None) -> str:
        """``hours`` written in the display unit, e.g. ``"12.5 s"``."""
        return f"{float(hours) * self.per_hour:.{self.digits if digits is None else digits}f} {self.unit_name}"

    @property
    def t0_text(self) -> str:
        """t0 as the standard writes it, e.g. ``"BJD_TDB 2459791.6123450"`` or ``"MJD_UTC 59791.1123450 (assumed)"``."""
        reference = _standard_parts(self.standard)
        name, number = _t0_number(self.t0, reference[0])
        cadence_days = self.cadence_hours / 24.0
        decimals = 6 if not (np.isfinite(cadence_days) and cadence_days > 0) else \
            int(np.clip(math.ceil(-math.log10(cadence_days)) + 1, 5, 8))
        note = f" ({reference[1]})" if reference[1] else ""
        return f"{name} {number:.{decimals}f}{note}"

    @property
    def title(self) -> str:
        """Axis title: what is drawn, its unit, and the value of t0."""
        since = "visit start" if self.since_visit_start else "t0"
        return f"Time since {since} ({self.unit_name}); t0 = {self.t0_text}"

    @property
    def short_title(self) -> str:
        """What is drawn and its unit, without t0 (for axes with little room: the 3D scene's)."""
        return f"Time since {'visit start' if self.since_visit_start else 't0'} ({self.unit_name})"

    def axis_layout(self, title: bool = True) -> dict:
        """Plotly axis settings of a time axis: the title, and ticks without SI prefixes
        (plotly would write 0.00002 h as "20µ")."""
        return {**({"title": {"text": self.title}} if title else {}), "exponentformat": "power"}

    def hover(self, axis: str = "x") -> str:
        """Hover-template part for the time coordinate, e.g. ``"t = %{y:.2f} s since t0 (BJD_TDB)"``."""
        since = "since visit start" if self.since_visit_start else "since t0"
        return f"t = %{{{axis}:.{self.digits}f}} {self.unit_name} {since} ({_standard_parts(self.standard)[0]})"

    def meta(self) -> dict:
        """What the browser reads from a figure's ``layout.meta["time_axis"]``."""
        return {"unit": self.unit_name, "per_hour": self.per_hour, "t0": self.t0_text, "title": self.title,
                "digits": self.digits, "since_visit_start": self.since_visit_start}


def _standard_parts(label: str) -> tuple[str, str]:
    """``"MJD_UTC (from EXPSTART + cadence)"`` → (``"MJD_UTC"``, ``"from EXPSTART + cadence"``)."""
    name, _, rest = str(label).partition(" (")
    return name, rest.rstrip(")")


def time_axis(hours: np.ndarray, t0: Time, standard: str, visit: np.ndarray | None = None,
              since_visit_start: bool = False) -> TimeAxis:
    """The :class:`TimeAxis` of rows at ``hours`` since ``t0``: its unit from the span (the longest
    visit's with ``since_visit_start``) and the cadence.

    Parameters
    ----------
    hours : ndarray
        Time since ``t0`` of the rows, hours.
    t0 : astropy.time.Time
        The origin (a scalar Time in the rows' scale).
    standard : str
        Time-standard label (``Cube.time_standard``).
    visit : ndarray of int, optional
        Visit of each row.
    since_visit_start : bool
        Each visit drawn from its own start: the unit is chosen from the longest visit.
    """
    hours = np.asarray(hours, dtype=float)
    finite = hours[np.isfinite(hours)]
    cadence = cadence_hours(hours, visit)
    if finite.size == 0:
        span = float("nan")
    elif since_visit_start and visit is not None:
        visit = np.asarray(visit)
        order = np.argsort(visit, kind="stable")
        v, h = visit[order], hours[order]
        starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
        span = float(np.nanmax(np.fmax.reduceat(h, starts) - np.fmin.reduceat(h, starts)))
    else:
        span = float(finite.max() - finite.min())
    return TimeAxis(display_time_unit(span, cadence), t0, standard, since_visit_start, cadence)


def curve_time_axis(curve) -> TimeAxis:
    """The :class:`TimeAxis` of a light curve (anything with ``time``, ``hours``, ``visit`` and
    optionally ``time_standard``): t0 is its first time minus its first hours."""
    hours = np.asarray(curve.hours, dtype=float)
    time = curve.time
    standard = getattr(curve, "time_standard", "") or ("BJD_TDB" if time.scale == "tdb" else f"MJD_{time.scale.upper()}")
    if hours.size == 0:
        return TimeAxis(u.h, Time(0.0, format="mjd", scale=time.scale), standard)
    t0 = Time(float(time.mjd[0]) - float(hours[0]) / 24.0, format="mjd", scale=time.scale)
    visit = getattr(curve, "visit", None)
    visit = None if visit is None else np.broadcast_to(np.asarray(visit), hours.shape)
    return time_axis(hours, t0, standard, visit)


def cadence_problem(hours: np.ndarray, visit: np.ndarray | None = None) -> str | None:
    """Why the times of a JWST time series look wrong, or None when they look plausible.

    Flags times that repeat or go backwards within a visit, and a median cadence outside
    :data:`PLAUSIBLE_CADENCE` (e.g. times in the wrong unit).
    """
    hours = np.asarray(hours, dtype=float)
    if hours.size < 2:
        return None
    steps = np.diff(hours)
    same = np.ones(steps.shape, dtype=bool) if visit is None else np.diff(np.asarray(visit)) == 0
    repeated = int(np.count_nonzero(same & (steps == 0)))
    backwards = int(np.count_nonzero(same & (steps < 0)))
    reasons = []
    if repeated:
        reasons.append(f"{repeated} integration time(s) repeat the previous one")
    if backwards:
        reasons.append(f"{backwards} integration time(s) go backwards")
    cadence = cadence_hours(hours, visit)
    low, high = PLAUSIBLE_CADENCE
    if np.isfinite(cadence):
        step = cadence * u.h
        if step < low or step > high:
            shown = step.to(display_time_unit(cadence, cadence))
            reasons.append(f"median cadence {shown:.3g} is outside the plausible "
                           f"{low:g}–{high:g} of a JWST time series (times in the wrong unit?)")
    return "; ".join(reasons) + "." if reasons else None
