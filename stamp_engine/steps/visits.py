"""Visits: label the integrations anew, a new visit after every long time gap."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..history import HistoryStep, append

if TYPE_CHECKING:
    from ..cube import Cube


def split_visits(cube: "Cube", gap_hours: float = 0.5) -> "Cube":
    """Label visits anew: a new visit starts after every time gap longer than ``gap_hours``.

    Parameters
    ----------
    cube : Cube
    gap_hours : float
        Gaps between consecutive integrations longer than this (hours) start a new visit.

    Returns
    -------
    Cube
        Same data, ``visit`` = 0, 1, … in time order.

    Raises
    ------
    ValueError
        If ``gap_hours`` is not positive, or the cube was normalized per visit
        and the new visits do not match the old ones (normalize again after
        splitting).
    """
    gap_hours = float(gap_hours)
    if not gap_hours > 0:
        raise ValueError(f"gap_hours must be a positive number of hours, not {gap_hours!r}")
    hours = cube.hours
    visit = np.zeros(cube.n_integrations, dtype=np.int32)
    if cube.n_integrations > 1:
        np.cumsum(np.diff(hours) > gap_hours, out=visit[1:])
    n_visits = int(visit[-1]) + 1 if visit.size else 0
    changes: dict = {"visit": visit}
    if cube.reference is not None and not np.array_equal(visit, cube.visit):
        if all(np.array_equal(r, cube.reference[0], equal_nan=True) for r in cube.reference[1:]):
            changes["reference"] = np.repeat(cube.reference[:1], n_visits, axis=0)
        else:
            raise ValueError(
                "this cube was normalized per visit; splitting it into different visits would "
                "mismatch the reference spectra — split the visits first, then normalize"
            )
    history = cube.history
    if history and _is_split(history[-1]):
        history = history[:-1]  # splitting again replaces the split just before: one line, not two
    changes["history"] = append(
        history, "split_visits", {"gap_hours": gap_hours, "visits": n_visits},
        f"split visits at time gaps > {gap_hours:g} h: {n_visits} visit(s)",
    )
    return cube.replace(**changes)


def _is_split(entry: str) -> bool:
    # a history read back from a file written before records were kept is plain sentences
    return isinstance(entry, HistoryStep) and entry.step == "split_visits" or entry.startswith("split visits at time gaps")
