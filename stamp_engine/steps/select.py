"""Select: the part of a cube inside a wavelength and/or a time range."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..history import append
from ..statistics import as_slice
from ._common import check_range, rows_within_hours, subset

if TYPE_CHECKING:
    from ..cube import Cube


def select(
    cube: "Cube",
    wavelength: tuple[float, float] | None = None,
    hours: tuple[float, float] | None = None,
) -> "Cube":
    """The part of the cube inside a wavelength range and/or a time range (both inclusive).

    Parameters
    ----------
    wavelength : (float, float), optional
        µm.
    hours : (float, float), optional
        Hours since the first integration of ``cube``.  (The result's hours count
        from its own first integration.)

    Returns
    -------
    Cube
        Visits renumbered 0, 1, … among those that remain; arrays are views when
        the selection is contiguous.

    Raises
    ------
    ValueError
        A range is malformed or selects nothing.
    """
    rows: slice | np.ndarray | None = None
    columns: slice | np.ndarray | None = None
    steps = []
    chosen: dict = {}
    if wavelength is not None:
        lo, hi = check_range(wavelength, "wavelength", "µm")
        inside = np.flatnonzero((cube.wavelength >= lo) & (cube.wavelength <= hi))
        if inside.size == 0:
            have = (
                f"{cube.wavelength[0]:.4g}–{cube.wavelength[-1]:.4g} µm" if cube.n_wavelengths else "no wavelengths"
            )
            raise ValueError(f"no wavelengths between {lo:g} and {hi:g} µm (the data cover {have})")
        columns = as_slice(inside)
        chosen["wavelength"] = [lo, hi]
        steps.append(f"{lo:g}–{hi:g} µm ({inside.size} wavelengths)")
    if hours is not None:
        lo, hi = check_range(hours, "hours", "h")
        inside = rows_within_hours(cube, lo, hi, f"no integrations between {lo:g} and {hi:g} h")
        rows = as_slice(inside)
        chosen["hours"] = [lo, hi]
        steps.append(f"{lo:g}–{hi:g} h ({inside.size} integrations)")
    sub = subset(cube, rows, columns)
    if steps:
        sub = sub.replace(history=append(cube.history, "select", chosen, "select " + ", ".join(steps)))
    return sub
