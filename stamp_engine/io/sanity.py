"""Values no instrument produces, dropped per integration or wavelength column, with a note.

One time of 1e300 in an otherwise good file used to fail the whole load (astropy cannot
convert it) or, where it slipped through, stretched the time axis to 10³⁰¹ hours; a NaN
wavelength column showed the range as "nan–nan µm".  :func:`drop_absurd_values` removes
such integrations and columns from a block, says how many, and keeps the rest: one bad
value never fails a load.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..problems import ReadError
from .block import SpectralBlock

#: An MJD-style time beyond ±this is absurd (MJD 10⁶ is the year 4596).
MAX_ABS_TIME = 1.0e6
#: The integrations of one file's spectral element lie within this many days of their median time:
#: the longest JWST exposures last a few days; a time further away is a corrupt value.
MAX_DAYS_FROM_MEDIAN = 30.0
#: Wavelengths (µm) outside (0, this] are absurd for any spectrograph.
MAX_WAVELENGTH_UM = 1.0e4


def drop_absurd_values(block: SpectralBlock) -> SpectralBlock:
    """The block without integrations whose time, or columns whose wavelength, is non-finite or absurd.

    Each drop adds a note to ``block.notes`` counting what was left out.

    Raises
    ------
    ReadError
        When no integration or no wavelength column is left (the caller names the element).
    """
    label = f" of {block.element}" if block.element else ""
    notes = list(block.notes)
    time = np.asarray(block.time_mjd, dtype=np.float64)
    rows = _usable_times(time)
    if not rows.any():
        raise ReadError(f"has no usable integration times (every time is missing or absurd, e.g. {time[0]:.6g})")
    changes: dict = {}
    if not rows.all():
        dropped = time[~rows]
        shown = next((v for v in dropped if np.isfinite(v)), dropped[0])
        notes.append(f"{dropped.size} integration(s){label} with a missing or absurd time (e.g. {shown:.6g}) "
                     "were left out")
        _keep_rows(block, changes, np.flatnonzero(rows))
    wavelength = np.asarray(changes.get("wavelength", block.wavelength), dtype=np.float64)
    usable = (np.isfinite(wavelength) & (wavelength > 0) & (wavelength <= MAX_WAVELENGTH_UM))
    if usable.ndim == 2 and not usable.any(axis=1).all():
        # an integration with its own grid and no usable wavelength at all (a corrupt table): that
        # integration goes, not every column of every integration
        with_grid = usable.any(axis=1)
        if not with_grid.any():
            raise ReadError("has no usable wavelengths (every value is missing, negative or absurd)")
        numbers = np.asarray(changes.get("integration", block.integration))[~with_grid]
        shown = ", ".join(str(int(n)) for n in numbers[:5]) + (" …" if numbers.size > 5 else "")
        notes.append(f"{numbers.size} integration(s){label} without a usable wavelength (INT_NUM {shown}) were left out")
        _keep_rows(block, changes, np.flatnonzero(with_grid))
        wavelength, usable = wavelength[with_grid], usable[with_grid]
    columns = usable if usable.ndim == 1 else usable.all(axis=0)
    if not columns.any():
        raise ReadError("has no usable wavelengths (every value is missing, negative or absurd)")
    if not columns.all():
        notes.append(f"{int(np.count_nonzero(~columns))} wavelength column(s){label} with a missing, negative or "
                     "absurd wavelength were left out")
        keep = np.flatnonzero(columns)
        for name in ("flux", "error", "bad"):
            values = changes.get(name, getattr(block, name))
            if values is not None:
                changes[name] = np.asarray(values)[:, keep]
        changes["wavelength"] = wavelength[..., keep]
    return replace(block, notes=notes, **changes) if changes else block


def _keep_rows(block: SpectralBlock, changes: dict, keep: np.ndarray) -> None:
    """Put the block's (or the already changed) per-integration arrays restricted to ``keep`` in ``changes``."""
    for name in ("time_mjd", "integration", "flux", "error", "bad", "wavelength"):
        values = changes.get(name, getattr(block, name))
        if values is None or (name == "wavelength" and np.ndim(values) != 2):
            continue
        changes[name] = np.asarray(values)[keep] if name in ("time_mjd", "integration") else values[keep]


def _usable_times(time: np.ndarray) -> np.ndarray:
    plausible = np.isfinite(time) & (np.abs(time) <= MAX_ABS_TIME)
    if plausible.any():
        centre = np.median(time[plausible])
        plausible &= np.abs(time - centre) <= MAX_DAYS_FROM_MEDIAN
    return plausible
