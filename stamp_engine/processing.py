"""Processing steps on a :class:`~stamp_engine.cube.Cube`, and light curves made from it.

Every function is pure: it returns a new :class:`Cube` (or a :class:`LightCurve`)
and never writes into the arrays of the cube it was given.  Arrays that a step
does not change (times, visit labels, …) are shared with the input rather than
copied, and a step that selects a contiguous range returns views.

Conventions
-----------
* Rows are integrations in time order, columns are wavelengths in ascending order.
* "NaN-aware": a NaN flux is a missing value; it is skipped by every statistic
  and stays NaN in the output.
* An error (σ) of 0 means "unknown", not "perfect" — ``extract_1d`` writes
  ``FLUX_ERROR = 0`` next to a NaN flux.
* Steps that need the rows of one visit use ``cube.visit``; time bins and
  smoothing never mix integrations of different visits.
* Each step appends a sentence to ``cube.history`` so exports can state how the
  numbers were made.

Per-row flag
------------
``interpolate_gaps`` stores a boolean array ``meta["interpolated"]`` (one entry
per integration, True for rows made by interpolation).  The functions of this
module keep it aligned when they select, thin or bin rows.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, Sequence, TypeVar

import astropy.units as u
import numpy as np
from astropy.time import Time

if TYPE_CHECKING:
    from .bands import Band
    from .cube import Cube

__all__ = [
    "LightCurve",
    "band_light_curve",
    "bin",
    "clip",
    "interpolate_gaps",
    "limit",
    "nanmedian_over_time",
    "normalize",
    "row_spans",
    "select",
    "smooth",
    "split_visits",
    "white_light_curve",
]

#: Key in ``Cube.meta`` of the per-integration "made by interpolation" flags.
INTERPOLATED_KEY = "interpolated"

#: Key in ``Cube.meta`` of what each row spans once binned: (n, 4) floats, per row the first and
#: last integration number it averages and their mid-times (MJD in the cube's time scale).
ROW_SPAN_KEY = "row_span"

#: Efficiency of the median relative to the mean for Gaussian noise: σ_median ≈ √(π/2)·σ_mean.
MEDIAN_ERROR_FACTOR = float(np.sqrt(np.pi / 2.0))  # 1.2533

# Working-block sizes.  Statistics are computed block by block so that no
# temporary ever approaches the size of the cube: the output arrays are the only
# full-size allocations of normalize().
_MEDIAN_BLOCK_COLUMNS = 40  # wavelengths transposed and partitioned together
_MEDIAN_BLOCK_ROWS = 1024  # rows copied per step of the blocked transpose
_BLOCK_ELEMENTS = 1 << 17  # ≈ 1 MiB of float64: stays in cache for elementwise passes
_PARALLEL_MIN_ELEMENTS = 1 << 21  # below ~16 MB a thread pool costs more than it saves
_MAX_WORKERS = 4

T = TypeVar("T")


# --------------------------------------------------------------------------- helpers
def _n_workers(n_elements: int) -> int:
    """Threads worth using for ``n_elements`` values: NumPy releases the GIL in the
    partitions and ufuncs used here, so large cubes use up to 4 cores."""
    if n_elements < _PARALLEL_MIN_ELEMENTS:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(_MAX_WORKERS, cores))


def _run_parallel(function: Callable[[T], None], items: Sequence[T]) -> None:
    """``function(item)`` for every item, on a few threads when there are several items."""
    if len(items) <= 1:
        for item in items:
            function(item)
        return
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        for future in [pool.submit(function, item) for item in items]:
            future.result()  # re-raises a worker's exception


def _row_blocks(n_rows: int, n_columns: int) -> Iterator[slice]:
    """Consecutive row slices of about ``_BLOCK_ELEMENTS`` values each."""
    step = max(1, _BLOCK_ELEMENTS // max(1, n_columns))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def _as_slice(indices: np.ndarray) -> slice | np.ndarray:
    """A slice when ``indices`` are consecutive (so indexing returns a view), else the indices."""
    if indices.size and indices[-1] - indices[0] == indices.size - 1:
        return slice(int(indices[0]), int(indices[-1]) + 1)
    return indices


def _visit_segments(visit: np.ndarray) -> list[slice]:
    """Runs of consecutive rows with the same visit label, in order."""
    if visit.size == 0:
        return []
    edges = np.flatnonzero(visit[1:] != visit[:-1]) + 1
    bounds = np.concatenate(([0], edges, [visit.size]))
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def _row_flags(cube: "Cube") -> np.ndarray | None:
    flags = cube.meta.get(INTERPOLATED_KEY)
    if flags is None:
        return None
    flags = np.asarray(flags, dtype=bool)
    return flags if flags.shape == (cube.n_integrations,) else None


def row_spans(cube: "Cube") -> np.ndarray:
    """What each row of ``cube`` stands for: (n, 4) = first and last integration number,
    first and last mid-time (MJD). An unbinned row spans one integration.

    Read from ``meta[ROW_SPAN_KEY]`` (written by :func:`bin`) when it matches the rows.
    """
    stored = cube.meta.get(ROW_SPAN_KEY)
    if stored is not None:
        stored = np.asarray(stored, dtype=float)
        if stored.shape == (cube.n_integrations, 4):
            return stored
    integration = np.asarray(cube.integration, dtype=float)
    mjd = np.asarray(cube.time.mjd, dtype=float) if cube.n_integrations else np.empty(0)
    return np.column_stack([integration, integration, mjd, mjd]).reshape(-1, 4)


def _with_row_flags(meta: dict, flags: np.ndarray | None) -> dict:
    meta = dict(meta)
    if flags is None:
        meta.pop(INTERPOLATED_KEY, None)
    else:
        meta[INTERPOLATED_KEY] = flags
    return meta


def _subset(cube: "Cube", rows: slice | np.ndarray | None = None, columns: slice | np.ndarray | None = None) -> "Cube":
    """``cube.take`` that also renumbers visits 0, 1, … and keeps per-row flags aligned."""
    sub = cube.take(rows, columns)
    present, visit = np.unique(sub.visit, return_inverse=True)
    changes: dict = {"visit": visit.astype(np.int32).reshape(-1)}
    if sub.reference is not None:
        changes["reference"] = sub.reference[np.minimum(present, len(sub.reference) - 1)]
    flags = _row_flags(cube)
    if flags is not None:
        changes["meta"] = _with_row_flags(cube.meta, flags[slice(None) if rows is None else rows])
    return sub.replace(**changes)


def _check_range(value: tuple[float, float], what: str, unit: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a pair of numbers (low, high) in {unit}, not {value!r}") from None
    if np.isnan(lo) or np.isnan(hi):
        raise ValueError(f"{what} range ({lo}, {hi}) {unit} contains NaN")
    if lo > hi:
        raise ValueError(f"{what} range is reversed: {lo:g} {unit} is above {hi:g} {unit}")
    return lo, hi


def _positive_int(value: int, what: str) -> int:
    if isinstance(value, (bool, np.bool_)) or int(value) != value or value < 1:
        raise ValueError(f"{what} must be a whole number ≥ 1, not {value!r}")
    return int(value)


# --------------------------------------------------------------------------- median
def _median_of_rows(block: np.ndarray) -> np.ndarray:
    """NaN-aware median of each row of a C-contiguous 2-D ``block`` (which is reordered in place).

    Rows without NaN are partitioned once around the upper middle element (one
    ``kth`` uses NumPy's fast SIMD selection; two ``kth`` fall back to a much
    slower introselect); the lower middle element of an even count is then the
    maximum of the left part.  Rows holding NaN are sorted (NaN sorts last) and
    read at the middle of their valid values.  The result equals
    ``np.nanmedian(block, axis=1)`` bit for bit: the mean of two middle values is
    ``(a + b) / 2`` in both.
    """
    n_rows, n = block.shape
    median = np.full(n_rows, np.nan)
    if n == 0 or n_rows == 0:
        return median
    # The sum is NaN if a row holds NaN (or both infinities): those go the sorted way.
    with np.errstate(invalid="ignore", over="ignore"):
        has_nan = np.isnan(block.sum(axis=1))
    upper = n // 2
    block.partition(upper, axis=1)
    median[:] = block[:, upper]
    if n % 2 == 0:
        lower = block[:, :upper].max(axis=1)
        with np.errstate(invalid="ignore", over="ignore"):
            median += lower
        median /= 2.0
    if has_nan.any():
        rows = np.sort(block[has_nan], axis=1)
        n_valid = n - np.isnan(rows).sum(axis=1)
        hi = np.clip(n_valid // 2, 0, n - 1)
        lo = np.clip((n_valid - 1) // 2, 0, n - 1)
        r = np.arange(rows.shape[0])
        with np.errstate(invalid="ignore", over="ignore"):
            pair_mean = (rows[r, lo] + rows[r, hi]) / 2.0
        value = np.where(lo == hi, rows[r, hi], pair_mean)
        value[n_valid == 0] = np.nan
        median[has_nan] = value
    return median


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
        rows = _as_slice(rows)
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
    block_starts = list(range(0, n_columns, width))

    def run(starts: list[int]) -> None:
        scratch = np.empty((width, n))  # one per thread, reused for all its blocks
        for c0 in starts:
            c1 = min(c0 + width, n_columns)
            block = scratch[: c1 - c0]
            for r0 in range(0, n, _MEDIAN_BLOCK_ROWS):
                r1 = min(r0 + _MEDIAN_BLOCK_ROWS, n)
                block[:, r0:r1] = tile(r0, r1, c0, c1).T
            median[c0:c1] = _median_of_rows(block)

    workers = _n_workers(n * n_columns)
    _run_parallel(run, [block_starts[i::workers] for i in range(workers)])
    return median


# --------------------------------------------------------------------------- visits
def split_visits(cube: "Cube", gap_hours: float = 0.5) -> "Cube":
    """Label visits anew: a new visit starts after every time gap longer than ``gap_hours``.

    Parameters
    ----------
    cube : Cube
    gap_hours : float
        Gaps between consecutive integrations longer than this (hours) start a new visit.

    Returns
    -------
    Cube
        Same data, ``visit`` = 0, 1, … in time order.

    Raises
    ------
    ValueError
        If ``gap_hours`` is not positive, or the cube was normalized per visit
        and the new visits do not match the old ones (normalize again after
        splitting).
    """
    gap_hours = float(gap_hours)
    if not gap_hours > 0:
        raise ValueError(f"gap_hours must be a positive number of hours, not {gap_hours!r}")
    hours = cube.hours
    visit = np.zeros(cube.n_integrations, dtype=np.int32)
    if cube.n_integrations > 1:
        np.cumsum(np.diff(hours) > gap_hours, out=visit[1:])
    n_visits = int(visit[-1]) + 1 if visit.size else 0
    changes: dict = {"visit": visit}
    if cube.reference is not None and not np.array_equal(visit, cube.visit):
        if all(np.array_equal(r, cube.reference[0], equal_nan=True) for r in cube.reference[1:]):
            changes["reference"] = np.repeat(cube.reference[:1], n_visits, axis=0)
        else:
            raise ValueError(
                "this cube was normalized per visit; splitting it into different visits would "
                "mismatch the reference spectra — split the visits first, then normalize"
            )
    history = cube.history
    if history and history[-1].startswith(_SPLIT_VISITS):
        history = history[:-1]  # splitting again replaces the split just before: one line, not two
    changes["history"] = (*history, f"{_SPLIT_VISITS} > {gap_hours:g} h: {n_visits} visit(s)")
    return cube.replace(**changes)


_SPLIT_VISITS = "split visits at time gaps"


# --------------------------------------------------------------------------- normalize
def normalize(cube: "Cube", method: str = "median", baseline: tuple[float, float] | None = None) -> "Cube":
    """Flux → variability in percent relative to a reference spectrum.

    ``variability = (flux / reference − 1) × 100`` for every integration and wavelength,
    where the reference spectrum is the NaN-aware median over time of

    * ``"median"`` — all integrations (the original STAMP's choice);
    * ``"visit"`` — the integrations of the same visit (removes level changes between visits);
    * ``"baseline"`` — the integrations with ``baseline[0] ≤ hours ≤ baseline[1]``
      (hours since the first integration), e.g. out of transit, so that a transit
      reads as a negative variability equal to its depth.

    Errors: ``σ_variability = 100 · σ / |reference|``.  The reference's own error
    (≈ 1.25 σ/√N for a median over N integrations) is neglected on purpose: it is one
    number per wavelength shared by every integration, so it scales the whole light
    curve (a systematic of order 1/√N) rather than adding point-to-point scatter, and
    adding it to each point would make time-averages look noisier than they are.
    Where the reference is 0 or not finite, the variability is NaN.

    Parameters
    ----------
    cube : Cube
        Not yet normalized.
    method : {"median", "visit", "baseline"}
    baseline : (float, float), optional
        Hours since the first integration; required for (and only for) ``method="baseline"``.

    Returns
    -------
    Cube
        ``flux``/``error`` in %, ``flux_unit = u.percent``, ``reference`` of shape
        (n_visits, n_wave) in the original unit (identical rows unless
        ``method="visit"``), ``reference_unit`` = the original unit, and
        ``meta["normalization"]`` describing the reference.

    Raises
    ------
    ValueError
        Already normalized, unknown method, missing/misplaced baseline, or a baseline
        window holding no integration.
    """
    if cube.is_normalized:
        raise ValueError(
            "the cube is already normalized (variability in %); normalize the original flux instead"
        )
    if method not in ("median", "visit", "baseline"):
        raise ValueError(f"method must be 'median', 'visit' or 'baseline', not {method!r}")
    if method == "baseline" and baseline is None:
        raise ValueError("method='baseline' needs baseline=(start, end) in hours since the first integration")
    if method != "baseline" and baseline is not None:
        raise ValueError(f"baseline=… only applies to method='baseline', not method={method!r}")

    n_visits = max(cube.n_visits, 1)
    flux, error = cube.flux, cube.error
    if method == "visit":
        reference = np.empty((n_visits, cube.n_wavelengths))
        counts = []
        for v in range(n_visits):
            rows = np.flatnonzero(cube.visit == v)
            reference[v] = nanmedian_over_time(flux, rows)
            counts.append(int(rows.size))
        described = "its own visit's integrations"
        info = {"method": "visit", "integrations": counts}
    elif method == "baseline":
        h0, h1 = _check_range(baseline, "baseline", "hours")
        hours = cube.hours
        rows = np.flatnonzero((hours >= h0) & (hours <= h1))
        if rows.size == 0:
            span = f"{hours[0]:.3g}–{hours[-1]:.3g} h" if hours.size else "no integrations"
            raise ValueError(
                f"the baseline window {h0:g}–{h1:g} h holds no integrations "
                f"(the data span {span} since the first integration)"
            )
        reference = np.repeat(nanmedian_over_time(flux, rows)[None, :], n_visits, axis=0)
        described = f"the {rows.size} integrations between {h0:g} and {h1:g} h"
        info = {"method": "baseline", "baseline_hours": [h0, h1], "integrations": [int(rows.size)]}
    else:
        reference = np.repeat(nanmedian_over_time(flux)[None, :], n_visits, axis=0)
        described = f"all {cube.n_integrations} integrations"
        info = {"method": "median", "integrations": [cube.n_integrations]}
    reference[~np.isfinite(reference) | (reference == 0)] = np.nan

    # The two outputs are the only full-size allocations; the arithmetic runs
    # in cache-sized row blocks, in place in the outputs.
    variability = np.empty(flux.shape, dtype=np.float64)
    variability_error = np.empty(error.shape, dtype=np.float64)
    per_visit = method == "visit" and n_visits > 1
    flux_scale = 100.0 / reference  # NaN where the reference is unusable
    error_scales = np.abs(flux_scale)
    visit = cube.visit

    def fill(blocks: list[slice]) -> None:
        with np.errstate(divide="ignore", invalid="ignore"):  # per thread: errstate is thread-local
            for rows in blocks:
                if per_visit:
                    visit_rows = np.minimum(visit[rows], n_visits - 1)
                    scale, error_scale = flux_scale[visit_rows], error_scales[visit_rows]
                else:
                    scale, error_scale = flux_scale[0], error_scales[0]
                # flux·(100/ref) − 100: the same rounding error as (flux/ref − 1)·100, one pass fewer
                out = variability[rows]
                np.multiply(flux[rows], scale, out=out)
                out -= 100.0
                np.multiply(error[rows], error_scale, out=variability_error[rows])

    blocks = list(_row_blocks(cube.n_integrations, cube.n_wavelengths))
    workers = _n_workers(flux.size)
    _run_parallel(fill, [blocks[i::workers] for i in range(workers)])

    meta = dict(cube.meta)
    meta["normalization"] = info
    return cube.replace(
        flux=variability,
        error=variability_error,
        flux_unit=u.percent,
        reference=reference,
        reference_unit=cube.flux_unit,
        meta=meta,
        history=(
            *cube.history,
            f"normalize ({method}): variability % = (flux / reference − 1) × 100, reference = NaN-aware "
            f"median over {described}; σ = 100·σ_flux/|reference| (reference error neglected)",
        ),
    )


# --------------------------------------------------------------------------- select
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
    if wavelength is not None:
        lo, hi = _check_range(wavelength, "wavelength", "µm")
        inside = np.flatnonzero((cube.wavelength >= lo) & (cube.wavelength <= hi))
        if inside.size == 0:
            have = (
                f"{cube.wavelength[0]:.4g}–{cube.wavelength[-1]:.4g} µm" if cube.n_wavelengths else "no wavelengths"
            )
            raise ValueError(f"no wavelengths between {lo:g} and {hi:g} µm (the data cover {have})")
        columns = _as_slice(inside)
        steps.append(f"{lo:g}–{hi:g} µm ({inside.size} wavelengths)")
    if hours is not None:
        lo, hi = _check_range(hours, "hours", "h")
        h = cube.hours
        inside = np.flatnonzero((h >= lo) & (h <= hi))
        if inside.size == 0:
            have = f"{h[0]:.3g}–{h[-1]:.3g} h" if h.size else "no integrations"
            raise ValueError(
                f"no integrations between {lo:g} and {hi:g} h (the data span {have} since the first integration)"
            )
        rows = _as_slice(inside)
        steps.append(f"{lo:g}–{hi:g} h ({inside.size} integrations)")
    sub = _subset(cube, rows, columns)
    if steps:
        sub = sub.replace(history=(*cube.history, "select " + ", ".join(steps)))
    return sub


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
    sub = _subset(cube, rows)
    return sub.replace(history=(*cube.history, f"limit to {n} of {total} integrations, evenly spaced"))


# --------------------------------------------------------------------------- gaps
def interpolate_gaps(
    cube: "Cube",
    cadence_hours: float | None = None,
    max_integrations: int | None = None,
    *,
    across_visits: bool = False,
) -> "Cube":
    """Fill time gaps with linearly interpolated rows; every measured integration is kept exactly.

    A step between consecutive integrations of ``k = round(step / cadence) ≥ 2`` cadences
    (a missing integration, a failed segment) gets ``k − 1`` rows spread evenly inside it, so the
    measured rows keep their values, errors and times bit for bit and only rows are added.  An
    added row is the linear interpolation in time of its two measured neighbours (NaN where
    either is NaN); its error is NaN: an interpolated value is not a measurement, and crediting
    it with the neighbours' precision would be false.

    Gaps between visits are left as they are unless ``across_visits``: then they are filled
    too and the cube becomes one visit (one surface across the former gaps).

    Added rows get ``integration = 0``, the source file of their nearer neighbour, and
    ``meta["interpolated"]`` flags them.

    Parameters
    ----------
    cadence_hours : float, optional
        Spacing of the added rows, hours; default the median spacing of consecutive
        integrations within visits.
    max_integrations : int, optional
        Refuse to return more rows than this (default ``20 × n_integrations + 1000``),
        e.g. visits days apart at a seconds cadence.
    across_visits : bool
        Also fill the gaps between visits, joining them into one.

    Raises
    ------
    ValueError
        Bad cadence, or filling would make more than ``max_integrations`` rows.
    """
    n = cube.n_integrations
    hours = cube.hours
    steps = np.diff(hours)
    fillable = np.ones(steps.size, dtype=bool) if across_visits else cube.visit[1:] == cube.visit[:-1]
    if cadence_hours is None:
        positive = steps[fillable & (steps > 0)]
        if positive.size == 0:
            positive = steps[steps > 0]
        if positive.size == 0:
            return cube.replace()
        cadence_hours = float(np.median(positive))
    cadence_hours = float(cadence_hours)
    if not (np.isfinite(cadence_hours) and cadence_hours > 0):
        raise ValueError(f"cadence_hours must be a positive number of hours, not {cadence_hours!r}")
    # floor(x + 0.5): a step of 1.5 cadences holds one missing integration, not round-half-even's choice
    added = np.where(fillable, np.floor(steps / cadence_hours + 0.5).astype(np.int64) - 1, 0).clip(min=0)
    n_added = int(added.sum())
    limit_rows = 20 * n + 1000 if max_integrations is None else int(max_integrations)
    if n + n_added > limit_rows:
        where = "between and inside visits" if across_visits else "inside visits"
        raise ValueError(
            f"filling the gaps {where} every {cadence_hours * 3600:.4g} s would make {n + n_added} "
            f"integrations from {n} (limit {limit_rows}); choose a larger cadence_hours or select one visit"
        )
    if n_added == 0 and not (across_visits and cube.n_visits > 1):
        return cube.replace(history=(*cube.history, "interpolate gaps: no gap to fill"))

    # where each measured row lands, and for each added row its left neighbour and weight
    measured_at = np.arange(n) + np.concatenate(([0], np.cumsum(added)))
    left = np.repeat(np.arange(n - 1), added)
    first_of_gap = np.repeat(np.cumsum(added) - added, added)
    step_in_gap = np.arange(n_added) - first_of_gap + 1
    weight = step_in_gap / (added[left] + 1.0)
    added_at = measured_at[left] + step_in_gap
    n_out = n + n_added

    flux = np.empty((n_out, cube.n_wavelengths))
    error = np.empty_like(flux)
    flux[measured_at] = cube.flux
    error[measured_at] = cube.error
    if n_added:
        filled = cube.flux[left + 1] - cube.flux[left]
        filled *= weight[:, None]
        filled += cube.flux[left]
        flux[added_at] = filled
        error[added_at] = np.nan

    # times from the two-part Julian dates, so the measured rows keep theirs exactly
    jd1, jd2 = cube.time.jd1, cube.time.jd2
    out_jd1, out_jd2 = np.empty(n_out), np.empty(n_out)
    out_jd1[measured_at], out_jd2[measured_at] = jd1, jd2
    out_jd1[added_at] = jd1[left]
    out_jd2[added_at] = jd2[left] + weight * ((jd1[left + 1] - jd1[left]) + (jd2[left + 1] - jd2[left]))
    time = Time(out_jd1, out_jd2, format="jd", scale=cube.time.scale)
    time.format = cube.time.format

    made = np.zeros(n_out, dtype=bool)
    made[added_at] = True
    old_flags = _row_flags(cube)
    flags = made.copy()
    if old_flags is not None:
        flags[measured_at] = old_flags
    integration = np.zeros(n_out, dtype=cube.integration.dtype)
    integration[measured_at] = cube.integration
    nearer = np.where(weight > 0.5, left + 1, left)
    source_index = np.empty(n_out, dtype=cube.source_index.dtype)
    source_index[measured_at] = cube.source_index
    source_index[added_at] = cube.source_index[nearer]
    visit = np.empty(n_out, dtype=cube.visit.dtype)
    visit[measured_at] = cube.visit
    visit[added_at] = cube.visit[left]

    n_gaps = int(np.count_nonzero(added))
    history = [
        f"interpolate gaps: {n_added} row(s) added in {n_gaps} gap(s) "
        f"{'between and inside visits' if across_visits else 'inside visits'}, every "
        f"{cadence_hours * 3600:.4g} s, linear in time with no error; the {n} measured integrations unchanged"
    ]
    reference = cube.reference
    if across_visits:
        visit = np.zeros(n_out, dtype=np.int32)
        history[0] += "; one visit"
        if reference is not None and len(reference) > 1:
            if not all(np.array_equal(r, reference[0], equal_nan=True) for r in reference[1:]):
                history.append(
                    "reference = mean of the per-visit references (the variability keeps its per-visit normalization)"
                )
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    reference = np.nanmean(reference, axis=0)[None, :]
            else:
                reference = reference[:1]

    return cube.replace(
        time=time,
        flux=flux,
        error=error,
        visit=visit,
        integration=integration,
        source_index=source_index,
        reference=reference,
        meta=_with_row_flags(cube.meta, flags),
        history=(*cube.history, *history),
    )


# --------------------------------------------------------------------------- bin
def _time_bin_chunks(visit: np.ndarray, size: int, n_columns: int) -> Iterator[tuple[int, int, int]]:
    """Runs of equal time bins as ``(first_row, n_bins, bin_size)``, in row order.

    Bins hold ``size`` rows and restart at each visit, whose last bin may be
    shorter (kept).  Runs are cut to about ``_BLOCK_ELEMENTS`` values so the
    arithmetic on them stays in cache and no temporary grows with the cube.
    """
    bins_per_run = max(1, _BLOCK_ELEMENTS // max(1, size * n_columns))
    for segment in _visit_segments(visit):
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
        values = _median_of_rows(np.ascontiguousarray(members).reshape(n_bins * n_wbins, size * wavelength))
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
    time = _positive_int(time, "time bin size")
    wavelength = _positive_int(wavelength, "wavelength bin size")
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
    flags = _row_flags(cube)
    meta = _with_row_flags(cube.meta, np.logical_or.reduceat(flags, row_starts)) if flags is not None else dict(cube.meta)
    if time > 1:
        meta.setdefault("t0_mjd", float(cube.t0_mjd))  # hours keep their origin, as for a loaded cube
        spans = row_spans(cube)
        row_ends = row_starts + row_sizes - 1
        meta[ROW_SPAN_KEY] = np.column_stack([spans[row_starts, 0], spans[row_ends, 1], spans[row_starts, 2], spans[row_ends, 3]])
    changes["meta"] = meta
    changes["history"] = (
        *cube.history,
        f"bin {time} integration(s) × {wavelength} wavelength(s) ({method}, NaN-aware; time bins within a visit)",
    )
    return cube.replace(**changes)


# --------------------------------------------------------------------------- smooth
def _gaussian_kernel(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """Normalized Gaussian weights, the same as ``scipy.ndimage.gaussian_filter1d`` uses."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 / (sigma * sigma) * x**2)
    return kernel / kernel.sum()


def _correlate(values: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    """``scipy.ndimage.correlate1d`` with zeros outside, split across threads along the other axis."""
    from scipy.ndimage import correlate1d

    out = np.empty_like(values)
    workers = _n_workers(values.size)
    other = values.shape[1 - axis]
    bounds = np.linspace(0, other, workers + 1).astype(int)
    pieces = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]

    def run(piece: slice) -> None:
        index = (slice(None), piece) if axis == 0 else (piece, slice(None))
        correlate1d(values[index], kernel, axis=axis, mode="constant", cval=0.0, output=out[index])

    _run_parallel(run, pieces)
    return out


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
        segments = _visit_segments(cube.visit) if axis == 0 else [slice(None)]
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
        history=(
            *cube.history,
            f"smooth: Gaussian σ = {sigmas[0]:g} integration(s) × {sigmas[1]:g} wavelength sample(s), "
            "NaN-aware (normalized convolution), within each visit",
        ),
    )


# --------------------------------------------------------------------------- clip
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
    for rows in _visit_segments(cube.visit):
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
        history=(
            *cube.history,
            f"clip: {n_clipped} value(s) beyond {sigma:g}σ of the median along time "
            "(per wavelength and visit) → NaN",
        ),
    )


# --------------------------------------------------------------------------- light curves
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


def _band_average(flux: np.ndarray, error: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: :func:`inverse_variance_mean` over columns, a cache-sized block of rows at a time."""
    n_rows, n_columns = flux.shape
    value = np.full(n_rows, np.nan)
    sigma = np.full(n_rows, np.nan)
    for rows in _row_blocks(n_rows, n_columns):
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
        interpolated=_row_flags(cube),
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
    return _light_curve(cube, band.name, _as_slice(inside), (float(band.start), float(band.end)))


def white_light_curve(cube: "Cube") -> LightCurve:
    """Light curve over all wavelengths ("White light"), weighted as in :func:`band_light_curve`."""
    if cube.n_wavelengths == 0:
        raise ValueError("the cube has no wavelengths")
    return _light_curve(
        cube, "White light", slice(None), (float(cube.wavelength[0]), float(cube.wavelength[-1]))
    )
