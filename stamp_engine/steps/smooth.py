"""Smooth: NaN-aware Gaussian smoothing along time (within visits) and wavelength."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..history import append
from ._common import visit_segments

if TYPE_CHECKING:
    from ..cube import Cube


def _gaussian_kernel(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """Normalized Gaussian weights, the same as ``scipy.ndimage.gaussian_filter1d`` uses."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 / (sigma * sigma) * x**2)
    return kernel / kernel.sum()


def _correlate(values: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    """``scipy.ndimage.correlate1d`` with zeros outside (one thread: benchmarks/nanmedian.py
    found splitting it over a thread pool no faster on the project machine)."""
    from scipy.ndimage import correlate1d

    return correlate1d(values, kernel, axis=axis, mode="constant", cval=0.0)


def smooth(cube: "Cube", sigma_time: float = 0.0, sigma_wavelength: float = 0.0) -> "Cube":
    """NaN-aware Gaussian smoothing; σ in pixels (integrations, wavelength samples).

    Normalized convolution: ``smoothed = G∗(w·flux) / G∗w`` with ``w`` = 1 where the
    flux is finite, 0 elsewhere, so missing values neither pull the result to zero
    nor spread NaN; edges are handled the same way (nothing outside counts).  Along
    time the smoothing stays within each visit.  Input NaNs stay NaN (and keep
    their error).  Errors are propagated exactly for independent noise:
    ``σ² = G²∗(w·σ²) / (G∗w)²`` (the kernel is separable, so its square is too).
    The Gaussian is truncated at 4σ, as in ``scipy.ndimage.gaussian_filter``.

    Raises
    ------
    ValueError
        A σ is negative or not finite.
    """
    from scipy.ndimage import correlate1d

    sigmas = []
    for name, value in (("sigma_time", sigma_time), ("sigma_wavelength", sigma_wavelength)):
        value = float(value)
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be ≥ 0 pixels, not {value!r}")
        sigmas.append(value)
    if not any(sigmas) or cube.n_integrations == 0 or cube.n_wavelengths == 0:
        return cube.replace()
    valid = np.isfinite(cube.flux)
    all_valid = bool(valid.all())
    weighted = np.where(valid, cube.flux, 0.0)
    variance = np.where(valid, cube.error, 0.0)
    np.square(variance, out=variance)
    # With no missing value the weight image is separable: an outer product of 1-D sums.
    weight = None if all_valid else valid.astype(np.float64)
    weight_time = np.ones(cube.n_integrations)
    weight_wavelength = np.ones(cube.n_wavelengths)
    for axis, sigma in enumerate(sigmas):
        if sigma == 0:
            continue
        kernel = _gaussian_kernel(sigma)
        segments = visit_segments(cube.visit) if axis == 0 else [slice(None)]
        for rows in segments:
            weighted[rows] = _correlate(weighted[rows], kernel, axis)
            variance[rows] = _correlate(variance[rows], kernel**2, axis)
            if weight is not None:
                weight[rows] = _correlate(weight[rows], kernel, axis)
            elif axis == 0:
                weight_time[rows] = correlate1d(weight_time[rows], kernel, mode="constant", cval=0.0)
            else:
                weight_wavelength = correlate1d(weight_wavelength, kernel, mode="constant", cval=0.0)
    if weight is None:
        weight = np.multiply.outer(weight_time, weight_wavelength)
    with np.errstate(divide="ignore", invalid="ignore"):
        weighted /= weight
        np.sqrt(variance, out=variance)
        variance /= weight
    weighted[~valid] = np.nan
    variance[~valid] = cube.error[~valid]
    return cube.replace(
        flux=weighted,
        error=variance,
        history=append(
            cube.history, "smooth", {"sigma_time": sigmas[0], "sigma_wavelength": sigmas[1]},
            f"smooth: Gaussian σ = {sigmas[0]:g} integration(s) × {sigmas[1]:g} wavelength sample(s), "
            "NaN-aware (normalized convolution), within each visit",
        ),
    )
