"""NaN-aware statistics shared by the processing steps, light curves, channels and figures.

* :func:`nanmedian_over_time` — the median along time of every column, equal to
  ``np.nanmedian(values, axis=0)`` bit for bit but several times faster on long series;
* :func:`median_of_rows` — the same rule along the rows of a scratch block (median binning);
* :func:`inverse_variance_mean` — the one weighted mean of band, channel and spectrum averages.

Large arrays are worked on in cache-sized blocks (:func:`row_blocks`), so that no temporary
approaches the size of the cube.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from .threads import map_pieces, pieces

__all__ = ["MEDIAN_ERROR_FACTOR", "as_slice", "inverse_variance_mean", "median_of_rows", "nanmedian_over_time", "row_blocks"]

#: Efficiency of the median relative to the mean for Gaussian noise: σ_median ≈ √(π/2)·σ_mean.
MEDIAN_ERROR_FACTOR = float(np.sqrt(np.pi / 2.0))  # 1.2533

# Working-block sizes.  Statistics are computed block by block so that no
# temporary ever approaches the size of the cube: the output arrays are the only
# full-size allocations of normalize().
_MEDIAN_BLOCK_COLUMNS = 40  # wavelengths transposed and partitioned together
_MEDIAN_BLOCK_ROWS = 1024  # rows copied per step of the blocked transpose
_BLOCK_ELEMENTS = 1 << 17  # ≈ 1 MiB of float64: stays in cache for elementwise passes



def row_blocks(n_rows: int, n_columns: int) -> Iterator[slice]:
    """Consecutive row slices of about ``_BLOCK_ELEMENTS`` values each."""
    step = max(1, _BLOCK_ELEMENTS // max(1, n_columns))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def true_runs(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop (exclusive) indices of each run of True in a 1-D boolean array."""
    steps = np.diff(np.concatenate([[0], np.asarray(flags, dtype=np.int8), [0]]))
    return np.flatnonzero(steps == 1), np.flatnonzero(steps == -1)


def as_slice(indices: np.ndarray) -> slice | np.ndarray:
    """A slice when ``indices`` are consecutive (so indexing returns a view), else the indices."""
    if indices.size and indices[-1] - indices[0] == indices.size - 1:
        return slice(int(indices[0]), int(indices[-1]) + 1)
    return indices

# --------------------------------------------------------------------------- median
def median_of_rows(block: np.ndarray) -> np.ndarray:
    """NaN-aware median of each row of a C-contiguous 2-D ``block`` (which is reordered in place).

    Rows without NaN are partitioned once around the upper middle element (one
    ``kth`` uses NumPy's fast SIMD selection; two ``kth`` fall back to a much
    slower introselect); the lower middle element of an even count is then the
    maximum of the left part.  Rows holding NaN (which NumPy orders last) need the
    middle of their valid values, a position that differs from row to row: they are
    put in order only over the window of positions those middles span
    (:func:`_order_window`), then read there.  The result equals
    ``np.nanmedian(block, axis=1)`` bit for bit: the mean of two middle values is
    ``(a + b) / 2`` in both.
    """
    n_rows, n = block.shape
    median = np.full(n_rows, np.nan)
    if n == 0 or n_rows == 0:
        return median
    # The sum is NaN if a row holds NaN (or both infinities): those need the window of ranks.
    with np.errstate(invalid="ignore", over="ignore"):
        has_nan = np.isnan(block.sum(axis=1))
    clean = ~has_nan
    if clean.any():
        rows = block if clean.all() else block[clean]  # in place when no row holds NaN
        upper = n // 2
        rows.partition(upper, axis=1)
        value = rows[:, upper].copy()
        if n % 2 == 0:
            with np.errstate(invalid="ignore", over="ignore"):
                value += rows[:, :upper].max(axis=1)
            value /= 2.0
        median[clean] = value
    if has_nan.any():
        rows = block if has_nan.all() else block[has_nan]
        n_valid = n - np.isnan(rows).sum(axis=1)
        with_values = n_valid > 0  # all-NaN rows stay NaN (and must not widen the window)
        if with_values.any():
            hi = n_valid // 2
            lo = np.maximum((n_valid - 1) // 2, 0)
            _order_window(rows, int(lo[with_values].min()), int(hi[with_values].max()))
            r = np.arange(rows.shape[0])
            with np.errstate(invalid="ignore", over="ignore"):
                pair_mean = (rows[r, lo] + rows[r, hi]) / 2.0
            value = np.where(lo == hi, rows[r, hi], pair_mean)
            value[~with_values] = np.nan
            median[has_nan] = value
    return median


def _order_window(rows: np.ndarray, first: int, last: int) -> None:
    """Reorder each row of ``rows`` in place so that positions ``first…last`` hold the
    row's order statistics of those ranks, in order (NaN ranks last).

    Two single-``kth`` partitions (at ``last``, then at ``first`` within the left part)
    and a sort of the window only: linear in the row length, where sorting whole rows
    made scattered NaN several times slower than clean data.
    """
    rows.partition(last, axis=1)
    if first < last:
        left = rows[:, :last]
        left.partition(first, axis=1)  # a view: partitions rows in place
        rows[:, first : last + 1] = np.sort(rows[:, first : last + 1], axis=1)


def nanmedian_over_time(values: np.ndarray, rows: slice | np.ndarray | None = None) -> np.ndarray:
    """NaN-aware median along time (axis 0) of a 2-D array, optionally over some rows only.

    Equals ``np.nanmedian(values[rows], axis=0)`` exactly (all-NaN columns give
    NaN, silently), but runs several times faster on long time series:
    ``np.nanmedian`` handles each column separately in Python once there are
    more than ~600 rows.  Columns are processed in blocks of a few tens: each
    block is transposed (in cache-sized tiles) into a small scratch array and
    its rows are partitioned, so the extra memory is a few MB whatever the cube.

    Parameters
    ----------
    values : ndarray, shape (n_rows, n_columns)
    rows : slice, integer indices or boolean mask, optional
        The rows to take the median over (default all).

    Returns
    -------
    ndarray, shape (n_columns,)
    """
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"expected a 2-D array, got shape {values.shape}")
    n_total, n_columns = values.shape
    if rows is None:
        rows = slice(None)
    if not isinstance(rows, slice):
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        rows = as_slice(rows)
    if isinstance(rows, slice):
        start, stop, step = rows.indices(n_total)
        n = len(range(start, stop, step))

        def tile(r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
            return values[start + r0 * step : start + r1 * step : step, c0:c1]

    else:
        n = rows.size

        def tile(r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
            return values[rows[r0:r1], c0:c1]

    median = np.full(n_columns, np.nan)
    if n == 0 or n_columns == 0:
        return median
    width = min(_MEDIAN_BLOCK_COLUMNS, n_columns)

    def columns(part: slice) -> None:
        scratch = np.empty((width, n))  # reused for every block of columns of this part
        for c0 in range(part.start, part.stop, width):
            c1 = min(c0 + width, part.stop)
            block = scratch[: c1 - c0]
            for r0 in range(0, n, _MEDIAN_BLOCK_ROWS):
                r1 = min(r0 + _MEDIAN_BLOCK_ROWS, n)
                block[:, r0:r1] = tile(r0, r1, c0, c1).T
            median[c0:c1] = median_of_rows(block)

    # Column parts in threads (each its own scratch): the transposes and partitions release the GIL.
    map_pieces(columns, pieces(n_columns, n * n_columns, align=width))
    return median


def inverse_variance_mean(flux: np.ndarray, error: np.ndarray, axis: int, starts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Inverse-variance mean along ``axis`` (over runs beginning at ``starts`` when given).

    The rule of every band and channel light curve (:func:`band_light_curve`,
    :mod:`stamp_engine.channels`) and of the transmission spectrum's means: weights 1/σ² for finite
    values with finite σ > 0, value Σwf/Σw, error 1/√Σw; a run with finite values but no
    usable σ gets their plain mean with error = sample standard deviation/√N (NaN for
    N < 2); a run with no finite value is NaN.
    """
    finite = np.isfinite(flux)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        usable = finite & np.isfinite(error) & (error > 0)
        weight = np.where(usable, 1.0 / np.where(usable, error, 1.0) ** 2, 0.0)
        filled = np.where(finite, flux, 0.0)

        def total(values: np.ndarray) -> np.ndarray:
            return values.sum(axis=axis) if starts is None else np.add.reduceat(values, starts, axis=axis)

        total_weight = total(weight)
        weighted = total(weight * filled) / total_weight
        count = total(finite.astype(np.float64))
        plain = total(filled) / count
        if starts is None:
            plain_per_value = np.expand_dims(plain, axis)
        else:
            plain_per_value = np.repeat(plain, np.diff(np.append(starts, flux.shape[axis])), axis=axis)
        deviation = np.where(finite, flux - plain_per_value, 0.0)
        standard_error = np.sqrt(total(deviation**2) / (count - 1) / count)
        value = np.where(total_weight > 0, weighted, np.where(count > 0, plain, np.nan))
        sigma = np.where(total_weight > 0, 1.0 / np.sqrt(total_weight), np.where(count > 1, standard_error, np.nan))
    return value, sigma


