"""Clip: sigma-clip outliers along time, per wavelength and visit."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from ..history import append
from ._common import visit_segments

if TYPE_CHECKING:
    from ..cube import Cube


def clip(cube: "Cube", sigma: float = 5.0, maxiters: int = 5) -> "Cube":
    """Sigma-clip outliers along time, per wavelength and per visit; clipped values become NaN.

    Uses :func:`astropy.stats.sigma_clip` (centre = median, width = standard
    deviation, iterated up to ``maxiters`` times) on all wavelengths of a visit at
    once.  The standard deviation includes any real signal, so a transit or a
    rotational modulation is not clipped away; single-integration outliers
    (cosmic rays, glitches) are.  Clipped points get NaN flux and NaN error.

    Raises
    ------
    ValueError
        ``sigma`` not positive.
    """
    from astropy.stats import sigma_clip
    from astropy.utils.exceptions import AstropyUserWarning

    sigma = float(sigma)
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number, not {sigma!r}")
    flux = cube.flux.copy()
    error = cube.error.copy()
    n_clipped = 0
    for rows in visit_segments(cube.visit):
        with warnings.catch_warnings():
            # NaN inputs are expected (missing values); astropy warns about each call.
            warnings.simplefilter("ignore", AstropyUserWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            clipped = sigma_clip(
                cube.flux[rows], sigma=sigma, maxiters=maxiters, cenfunc="median", stdfunc="std", axis=0, masked=True
            )
        outliers = np.ma.getmaskarray(clipped) & np.isfinite(cube.flux[rows])
        n_clipped += int(outliers.sum())
        flux[rows][outliers] = np.nan
        error[rows][outliers] = np.nan
    return cube.replace(
        flux=flux,
        error=error,
        history=append(
            cube.history, "clip", {"sigma": sigma, "maxiters": maxiters, "clipped": n_clipped},
            f"clip: {n_clipped} value(s) beyond {sigma:g}σ of the median along time "
            "(per wavelength and visit) → NaN",
        ),
    )
