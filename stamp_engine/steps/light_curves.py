"""Light curves: the brightness of a band (or of all wavelengths) against time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import astropy.units as u
import numpy as np
from astropy.time import Time

from ..labels import interpolated_flags
from ..statistics import as_slice, inverse_variance_mean, row_blocks

if TYPE_CHECKING:
    from ..bands import Band
    from ..cube import Cube


@dataclass(frozen=True, eq=False)
class LightCurve:
    """Brightness of one wavelength band against time.

    Attributes
    ----------
    name : str
        Band name ("White light" for all wavelengths).
    band : (float, float)
        Wavelength range in µm.
    time : astropy.time.Time, shape (n_int,)
    hours : ndarray, shape (n_int,)
        Hours since the cube's first integration.
    value, error : ndarray, shape (n_int,)
        Band average and its 1-σ error, in ``unit``.
    unit : astropy.units.UnitBase
        The cube's flux unit (``u.percent`` for variability).
    visit : ndarray of int, shape (n_int,)
    time_label : str
        Axis label of ``hours`` naming the time standard (the cube's ``time_label``).
    interpolated : ndarray of bool, shape (n_int,), optional
        Points made by :func:`interpolate_gaps` (figures draw them apart, without error).
    time_standard : str
        The cube's time standard (``"BJD_TDB"``…), printed with t0 on figure axes
        (:func:`stamp_engine.timeaxis.curve_time_axis`); empty: inferred from ``time.scale``.
    """

    name: str
    band: tuple[float, float]
    time: Time
    hours: np.ndarray
    value: np.ndarray
    error: np.ndarray
    unit: u.UnitBase
    visit: np.ndarray
    time_label: str = "Time, hours"
    interpolated: np.ndarray | None = None
    time_standard: str = ""


def _band_average(flux: np.ndarray, error: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: :func:`inverse_variance_mean` over columns, a cache-sized block of rows at a time."""
    n_rows, n_columns = flux.shape
    value = np.full(n_rows, np.nan)
    sigma = np.full(n_rows, np.nan)
    for rows in row_blocks(n_rows, n_columns):
        value[rows], sigma[rows] = inverse_variance_mean(flux[rows], error[rows], axis=1)
    return value, sigma


def _light_curve(cube: "Cube", name: str, columns: slice | np.ndarray, band: tuple[float, float]) -> LightCurve:
    value, error = _band_average(cube.flux[:, columns], cube.error[:, columns])
    return LightCurve(
        name=name,
        band=band,
        time=cube.time,
        hours=cube.hours,
        value=value,
        error=error,
        unit=cube.flux_unit,
        visit=cube.visit,
        time_label=cube.time_label,
        interpolated=interpolated_flags(cube),
        time_standard=cube.time_standard,
    )


def band_light_curve(cube: "Cube", band: "Band") -> LightCurve:
    """Light curve of a band: per integration, the error-weighted mean over the band's wavelengths.

    Weights are 1/σ² for values with a finite flux and a finite σ > 0 (σ = 0
    means "unknown", as ``extract_1d`` writes next to NaN flux, not "perfect");
    value = Σwf/Σw, error = 1/√Σw.  An integration in which no value has a
    usable error falls back to the plain mean of its finite values with
    error = sample standard deviation/√N (NaN for N < 2; this spread includes any
    spectral slope across the band, so it is an upper bound).  An integration with
    no finite value is NaN.

    Raises
    ------
    ValueError
        The band has no wavelength sample of the cube (lies outside the data, or
        between two samples).
    """
    inside = np.flatnonzero(band.mask(cube.wavelength))
    if inside.size == 0:
        if cube.n_wavelengths == 0:
            raise ValueError(f"band {band.name!r}: the cube has no wavelengths")
        lo, hi = float(cube.wavelength[0]), float(cube.wavelength[-1])
        where = (
            f"lies outside the data ({lo:.4g}–{hi:.4g} µm)"
            if band.end < lo or band.start > hi
            else "contains no wavelength sample of the data (it is narrower than the sampling)"
        )
        raise ValueError(f"band {band.name!r} ({band.start:g}–{band.end:g} µm) {where}")
    return _light_curve(cube, band.name, as_slice(inside), (float(band.start), float(band.end)))


def white_light_curve(cube: "Cube") -> LightCurve:
    """Light curve over all wavelengths ("White light"), weighted as in :func:`band_light_curve`."""
    if cube.n_wavelengths == 0:
        raise ValueError("the cube has no wavelengths")
    return _light_curve(
        cube, "White light", slice(None), (float(cube.wavelength[0]), float(cube.wavelength[-1]))
    )
