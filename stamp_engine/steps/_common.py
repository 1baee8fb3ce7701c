"""Pieces several steps share: visit runs, row subsets, argument checks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..cube import Cube


def visit_segments(visit: np.ndarray) -> list[slice]:
    """Runs of consecutive rows with the same visit label, in order."""
    if visit.size == 0:
        return []
    edges = np.flatnonzero(visit[1:] != visit[:-1]) + 1
    bounds = np.concatenate(([0], edges, [visit.size]))
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def subset(cube: "Cube", rows: slice | np.ndarray | None = None, columns: slice | np.ndarray | None = None) -> "Cube":
    """``cube.take`` that also renumbers visits 0, 1, … (and their reference spectra) among those kept."""
    sub = cube.take(rows, columns)
    present, visit = np.unique(sub.visit, return_inverse=True)
    changes: dict = {"visit": visit.astype(np.int32).reshape(-1)}
    if sub.reference is not None:
        changes["reference"] = sub.reference[np.minimum(present, len(sub.reference) - 1)]
    return sub.replace(**changes)


def rows_within_hours(cube: "Cube", lo: float, hi: float, empty: str) -> np.ndarray:
    """Indices of the integrations with ``lo ≤ hours ≤ hi``.

    Raises
    ------
    ValueError
        When there are none: ``empty`` (what the caller was looking for) followed by the
        span the data cover.
    """
    hours = cube.hours
    rows = np.flatnonzero((hours >= lo) & (hours <= hi))
    if rows.size == 0:
        span = f"{hours[0]:.3g}–{hours[-1]:.3g} h" if hours.size else "no integrations"
        raise ValueError(f"{empty} (the data span {span} since the first integration)")
    return rows


def check_range(value: tuple[float, float], what: str, unit: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a pair of numbers (low, high) in {unit}, not {value!r}") from None
    if np.isnan(lo) or np.isnan(hi):
        raise ValueError(f"{what} range ({lo}, {hi}) {unit} contains NaN")
    if lo > hi:
        raise ValueError(f"{what} range is reversed: {lo:g} {unit} is above {hi:g} {unit}")
    return lo, hi


def positive_int(value: int, what: str) -> int:
    if isinstance(value, (bool, np.bool_)) or int(value) != value or value < 1:
        raise ValueError(f"{what} must be a whole number ≥ 1, not {value!r}")
    return int(value)

