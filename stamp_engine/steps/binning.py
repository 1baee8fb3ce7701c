"""Bin: combine consecutive integrations and neighbouring wavelengths, NaN-aware."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import astropy.units as u
import numpy as np

from ..history import append
from ..labels import ROW_SPAN_KEY, interpolated_flags, row_spans, with_interpolated
from ..statistics import _BLOCK_ELEMENTS, MEDIAN_ERROR_FACTOR, median_of_rows
from ._common import positive_int, visit_segments

if TYPE_CHECKING:
    from ..cube import Cube


def _time_bin_chunks(visit: np.ndarray, size: int, n_columns: int) -> Iterator[tuple[int, int, int]]:
    """Runs of equal time bins as ``(first_row, n_bins, bin_size)``, in row order.

    Bins hold ``size`` rows and restart at each visit, whose last bin may be
    shorter (kept).  Runs are cut to about ``_BLOCK_ELEMENTS`` values so the
    arithmetic on them stays in cache and no temporary grows with the cube.
    """
    bins_per_run = max(1, _BLOCK_ELEMENTS // max(1, size * n_columns))
    for segment in visit_segments(visit):
        length = segment.stop - segment.start
        n_full, rest = divmod(length, size)
        for first in range(0, n_full, bins_per_run):
            yield segment.start + first * size, min(bins_per_run, n_full - first), size
        if rest:
            yield segment.start + n_full * size, 1, rest


def _pad_columns(values: np.ndarray, multiple: int, fill: float) -> np.ndarray:
    """``values`` with its last axis padded by ``fill`` up to a multiple of ``multiple``."""
    missing = -values.shape[-1] % multiple
    if not missing:
        return values
    pad = np.full((*values.shape[:-1], missing), fill, dtype=values.dtype)
    return np.concatenate([values, pad], axis=-1)


def _bin_run(
    flux: np.ndarray, error: np.ndarray, n_bins: int, size: int, wavelength: int, median: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One run of ``n_bins`` time bins of ``size`` rows: per (time bin, wavelength bin)
    the combined value, √Σσ² over finite values, and the count of finite values."""
    n_columns = flux.shape[1]
    n_wbins = -(-n_columns // wavelength)
    finite = np.isfinite(flux)
    filled = np.where(finite, flux, 0.0)
    variance = np.square(error)
    variance[~finite] = 0.0

    def total(values: np.ndarray) -> np.ndarray:
        # rows: whole bins by reshape; columns: zero-padded to whole bins
        per_time = values.reshape(n_bins, size, n_columns).sum(axis=1)
        return _pad_columns(per_time, wavelength, 0).reshape(n_bins, n_wbins, wavelength).sum(axis=2)

    counts = total(finite.astype(np.int32))
    if median:
        members = _pad_columns(flux.reshape(n_bins, size, n_columns), wavelength, np.nan)
        members = members.reshape(n_bins, size, n_wbins, wavelength).transpose(0, 2, 1, 3)
        values = median_of_rows(np.ascontiguousarray(members).reshape(n_bins * n_wbins, size * wavelength))
        values = values.reshape(n_bins, n_wbins)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            values = total(filled) / counts
    return values, np.sqrt(total(variance)), counts


def bin(cube: "Cube", time: int = 1, wavelength: int = 1, method: str = "mean") -> "Cube":
    """Combine ``time`` consecutive integrations × ``wavelength`` neighbouring wavelengths.

    NaN-aware: each bin combines its finite values (a bin with none is NaN).
    Time bins never cross a visit boundary: they restart at each visit, and a
    visit's last bin may be partial (kept).  The last wavelength bin may be partial.

    * ``"mean"``: value = mean; error = √(Σσ²)/N over the N finite values.
    * ``"median"``: value = median; error = 1.2533·√(Σσ²)/N (the median's efficiency
      for Gaussian noise) when N ≥ 3 — with 1 or 2 values the median *is* the mean,
      so its error is √(Σσ²)/N.

    Bin time = mean of its integrations' times; bin wavelength = mean of its
    wavelengths; visit, integration number and source are those of its first
    integration.  A reference spectrum is averaged over the wavelength bins.

    Raises
    ------
    ValueError
        Bin sizes below 1 or an unknown method.
    """
    time = positive_int(time, "time bin size")
    wavelength = positive_int(wavelength, "wavelength bin size")
    if method not in ("mean", "median"):
        raise ValueError(f"method must be 'mean' or 'median', not {method!r}")
    if (time == 1 and wavelength == 1) or cube.n_integrations == 0 or cube.n_wavelengths == 0:
        return cube.replace()
    runs = list(_time_bin_chunks(cube.visit, time, cube.n_wavelengths))
    n_bins = sum(run[1] for run in runs)
    n_wbins = -(-cube.n_wavelengths // wavelength)
    flux = np.empty((n_bins, n_wbins))
    error = np.empty((n_bins, n_wbins))
    row_starts = np.empty(n_bins, dtype=np.intp)
    at = 0
    for first, count, size in runs:
        rows = slice(first, first + count * size)
        values, root_variance, counts = _bin_run(
            cube.flux[rows], cube.error[rows], count, size, wavelength, method == "median"
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            sigma = root_variance / counts
        if method == "median":
            sigma[counts >= 3] *= MEDIAN_ERROR_FACTOR
        empty = counts == 0
        values[empty] = np.nan
        sigma[empty] = np.nan
        flux[at : at + count] = values
        error[at : at + count] = sigma
        row_starts[at : at + count] = first + size * np.arange(count)
        at += count

    row_sizes = np.diff(np.append(row_starts, cube.n_integrations))
    column_starts = np.arange(0, cube.n_wavelengths, wavelength)
    column_sizes = np.diff(np.append(column_starts, cube.n_wavelengths))
    hours = np.add.reduceat(cube.hours, row_starts) / row_sizes
    changes: dict = {
        "wavelength": np.add.reduceat(cube.wavelength, column_starts) / column_sizes,
        "time": cube.t0 + hours * u.hour,
        "flux": flux,
        "error": error,
        "visit": cube.visit[row_starts],
        "integration": cube.integration[row_starts],
        "source_index": cube.source_index[row_starts],
    }
    if cube.reference is not None and wavelength > 1:
        finite = np.isfinite(cube.reference)
        with np.errstate(divide="ignore", invalid="ignore"):
            changes["reference"] = np.add.reduceat(
                np.where(finite, cube.reference, 0.0), column_starts, axis=1
            ) / np.add.reduceat(finite.astype(np.int32), column_starts, axis=1)
    flags = interpolated_flags(cube)
    meta = with_interpolated(cube.meta, np.logical_or.reduceat(flags, row_starts)) if flags is not None else dict(cube.meta)
    if time > 1:
        meta.setdefault("t0_mjd", float(cube.t0_mjd))  # hours keep their origin, as for a loaded cube
        spans = row_spans(cube)
        row_ends = row_starts + row_sizes - 1
        meta[ROW_SPAN_KEY] = np.column_stack([spans[row_starts, 0], spans[row_ends, 1], spans[row_starts, 2], spans[row_ends, 3]])
    changes["meta"] = meta
    changes["history"] = append(
        cube.history, "bin", {"time": time, "wavelength": wavelength, "method": method},
        f"bin {time} integration(s) × {wavelength} wavelength(s) ({method}, NaN-aware; time bins within a visit)",
    )
    return cube.replace(**changes)
