"""The time axis of maps and light curves: gaps drawn as gaps, and visits side by side.

Rules shared by the heatmap, the surface and the light curves:

* A **gap** is a step between consecutive integrations of one visit longer than
  :data:`GAP_CADENCES` cadences (the visit's median step), or a change of visit.
  Nothing is drawn across a gap, whatever the visit threshold: heatmap rows end
  half a cadence after their integration, light-curve lines break.
* **Visits side by side**: when visits are far apart compared to their length, one
  linear time axis is mostly empty (two 5 h visits a month apart leave each a
  pixel), so each visit gets its own panel with the time since its start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: A step longer than this many cadences breaks the map rows and the light-curve lines.
GAP_CADENCES = 3.0

#: How visits share the time axis of a map: choice → what the dashboard shows.
VISIT_LAYOUTS = {
    "auto": "Automatic (side by side when the time axis would be mostly empty)",
    "one axis": "One time axis (hours since the first integration)",
    "side by side": "Side by side (hours since each visit's start)",
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
