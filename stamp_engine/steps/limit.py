"""Limit: at most N integrations, evenly spaced over the observation."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..history import append
from ._common import subset

if TYPE_CHECKING:
    from ..cube import Cube


def limit(cube: "Cube", n_integrations: int) -> "Cube":
    """At most ``n_integrations`` integrations, evenly spaced in index over the whole cube.

    The first and the last integration are always kept (for ``n_integrations ≥ 2``);
    ``0`` (or a number ≥ the integrations available) keeps everything.

    Raises
    ------
    ValueError
        ``n_integrations`` is negative or not a whole number.
    """
    if isinstance(n_integrations, (bool, np.bool_)) or int(n_integrations) != n_integrations or n_integrations < 0:
        raise ValueError(f"the number of integrations must be a whole number ≥ 0, not {n_integrations!r}")
    n, total = int(n_integrations), cube.n_integrations
    if n == 0 or n >= total:
        return cube.replace()
    # floor(x + 0.5) rather than np.round: round-half-even could map two
    # neighbouring positions one apart onto the same integration.
    rows = np.floor(np.linspace(0.0, total - 1.0, n) + 0.5).astype(np.intp)
    sub = subset(cube, rows)
    return sub.replace(history=append(
        cube.history, "limit", {"n_integrations": n, "of": total}, f"limit to {n} of {total} integrations, evenly spaced"
    ))
