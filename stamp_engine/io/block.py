"""The unit every reader returns: the spectra of one spectral element in one file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import astropy.units as u
import numpy as np

from ..grid import TimeWavelengthGrid
from ..timestandard import MJD_UTC_FROM_CADENCE, time_standard

#: Time standard of times estimated from EXPSTART and the read pattern (the file had none).
CADENCE_FALLBACK = MJD_UTC_FROM_CADENCE.label


@dataclass
class SpectralBlock(TimeWavelengthGrid):
    """Spectra of one spectral element (detector / order) read from one file.

    Readers fill this without reordering anything: wavelengths as stored, rows in
    file order.  Stitching, sorting and deduplication are done once, in
    :mod:`stamp_engine.assemble`.

    Attributes
    ----------
    source : str
        File name shown to the user (archive members as ``archive.zip/member``).
    layout : str
        ``"x1dints-old"``, ``"x1dints-new"``, ``"eureka-s3"``, ``"eureka-s4"``, ``"hdf5-keys"``.
    wavelength : ndarray
        Wavelength in µm, shape ``(n_wave,)`` when shared by every row, else ``(n_int, n_wave)``.
    flux, error : array_like
        Shape ``(n_int, n_wave)``, as read: may be big-endian, float32 or a read-only
        memory map (the assembler copies once into native float64).  ``error`` is a
        1-σ uncertainty; 0 or NaN means unknown, never "perfect".
    bad : ndarray of bool or None
        ``(n_int, n_wave)``, True where the pipeline flagged the value as unusable
        (DQ DO_NOT_USE, Eureka ``optmask``, padding); None when nothing is flagged.
    flux_unit : astropy.units.UnitBase
        Unit of ``flux`` and ``error``.
    integration : ndarray of int
        Exposure-global, 1-based integration number of each row.
    time_mjd : ndarray of float
        Mid-integration time of each row as an MJD-style number in ``time_standard``
        (NaN where unknown).
    time_standard : str
        A label of :data:`stamp_engine.timestandard.TIME_STANDARDS`.
    element : str
        Which spectrum of the exposure: ``""`` for the only one, ``"order 1"``, ``"NRS1"``…
    exposure : str
        Key of the exposure (program/observation/visit/exposure): blocks with the same
        key and element are segments of one time series.
    stage : int
        Pipeline stage that wrote the file (2 or 3 for x1dints, 0 when unknown).
    meta : dict
        Metadata from the headers (target, instrument, detector, filter, …).
    notes : list of str
        Non-fatal observations the user should see (assumptions, repaired traps): warnings.
    info : list of str
        How the file was read where nothing was assumed or repaired (a layout told apart,
        channels described): reported with severity ``info``.
    wavelength_edges : (float, float) or None
        Shortest and longest wavelength covered, µm, when the samples are channels whose
        edges are known (Eureka! S4 ``wave_low``/``wave_hi``); None: the samples themselves.
    """

    source: str
    layout: str
    wavelength: np.ndarray
    flux: np.ndarray
    error: np.ndarray
    flux_unit: u.UnitBase
    integration: np.ndarray
    time_mjd: np.ndarray
    time_standard: str = "BJD_TDB"
    element: str = ""
    exposure: str = ""
    stage: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    bad: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    info: list[str] = field(default_factory=list)
    wavelength_edges: tuple[float, float] | None = None

    @property
    def time_scale(self) -> str:
        return time_standard(self.time_standard).scale
