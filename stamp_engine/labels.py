"""Per-integration labels of a cube, and the one rule that slices them with its rows.

A :class:`~stamp_engine.cube.Cube` row carries labels besides its time and values: which visit
it belongs to, its integration number, the file it came from (the dataclass fields named in
:data:`ROW_FIELDS`), whether it was made by interpolation, and what span of integrations it
stands for once binned (arrays in ``meta`` under :data:`INTERPOLATED_KEY` / :data:`ROW_SPAN_KEY`,
where readers and interop formats also keep their own per-integration arrays).
:func:`take_rows` slices all of them at once, so :meth:`Cube.take` and every step that selects
rows keep them aligned without naming them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

if TYPE_CHECKING:
    from .cube import Cube

__all__ = ["INTERPOLATED_KEY", "ROW_FIELDS", "ROW_SPAN_KEY", "interpolated_flags", "row_spans", "take_rows",
           "with_interpolated"]

#: Cube fields holding one label per integration.
ROW_FIELDS = ("visit", "integration", "source_index")

#: Key in ``Cube.meta`` of the per-integration "made by interpolation" flags.
INTERPOLATED_KEY = "interpolated"

#: Key in ``Cube.meta`` of what each row spans once binned: (n, 4) floats, per row the first and
#: last integration number it averages and their mid-times (MJD in the cube's time scale).
ROW_SPAN_KEY = "row_span"


def take_rows(cube: "Cube", rows: slice | np.ndarray) -> dict[str, Any]:
    """The row labels of ``cube`` restricted to ``rows``, as :meth:`Cube.replace` changes.

    Every field of :data:`ROW_FIELDS`, and in ``meta`` every array with one entry per
    integration, is indexed with ``rows``; the rest of ``meta`` is kept as it is.
    """
    n = cube.n_integrations
    changes: dict[str, Any] = {name: getattr(cube, name)[rows] for name in ROW_FIELDS}
    per_row = {k: v[rows] for k, v in cube.meta.items() if isinstance(v, np.ndarray) and v.shape[:1] == (n,)}
    if per_row:
        changes["meta"] = {**cube.meta, **per_row}
    return changes


def interpolated_flags(cube: "Cube") -> np.ndarray | None:
    """True for rows made by interpolation (:func:`~stamp_engine.steps.gaps.interpolate_gaps`),
    or None when the cube has no such rows recorded."""
    flags = cube.meta.get(INTERPOLATED_KEY)
    if flags is None:
        return None
    flags = np.asarray(flags, dtype=bool)
    return flags if flags.shape == (cube.n_integrations,) else None


def with_interpolated(meta: Mapping[str, Any], flags: np.ndarray | None) -> dict[str, Any]:
    """A copy of ``meta`` holding ``flags`` as the interpolated-row flags (none when None)."""
    meta = dict(meta)
    if flags is None:
        meta.pop(INTERPOLATED_KEY, None)
    else:
        meta[INTERPOLATED_KEY] = flags
    return meta


def row_spans(cube: "Cube") -> np.ndarray:
    """What each row of ``cube`` stands for: (n, 4) = first and last integration number,
    first and last mid-time (MJD). An unbinned row spans one integration.

    Read from ``meta[ROW_SPAN_KEY]`` (written by :func:`~stamp_engine.steps.binning.bin`) when
    it matches the rows.
    """
    stored = cube.meta.get(ROW_SPAN_KEY)
    if stored is not None:
        stored = np.asarray(stored, dtype=float)
        if stored.shape == (cube.n_integrations, 4):
            return stored
    integration = np.asarray(cube.integration, dtype=float)
    mjd = np.asarray(cube.time.mjd, dtype=float) if cube.n_integrations else np.empty(0)
    return np.column_stack([integration, integration, mjd, mjd]).reshape(-1, 4)
