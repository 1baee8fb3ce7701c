"""Normalize: flux → variability in percent of a reference spectrum."""

from __future__ import annotations

from typing import TYPE_CHECKING

import astropy.units as u
import numpy as np

from ..history import append
from ..statistics import nanmedian_over_time, row_blocks
from ..threads import map_pieces, pieces
from ..vocabulary import NORMALIZATIONS, one_of
from ._common import check_range, rows_within_hours

if TYPE_CHECKING:
    from ..cube import Cube


def normalize(cube: "Cube", method: str = "median", baseline: tuple[float, float] | None = None, *,
              in_place: bool = False) -> "Cube":
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
    in_place : bool
        Write the variability into ``cube.flux`` and ``cube.error`` themselves instead of new
        arrays, for a caller that does not use ``cube`` again (``load`` then ``normalize``):
        the peak memory is one cube instead of two.  The values are the same bit for bit.
        Arrays that cannot be overwritten (read-only, e.g. a memory-mapped cache, or not
        float64) are left alone and new ones made, as without it.

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
    if method not in NORMALIZATIONS:
        raise ValueError(f"method must be {one_of(NORMALIZATIONS)}, not {method!r}")
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
        h0, h1 = check_range(baseline, "baseline", "hours")
        rows = rows_within_hours(cube, h0, h1, f"the baseline window {h0:g}–{h1:g} h holds no integrations")
        reference = np.repeat(nanmedian_over_time(flux, rows)[None, :], n_visits, axis=0)
        described = f"the {rows.size} integrations between {h0:g} and {h1:g} h"
        info = {"method": "baseline", "baseline_hours": [h0, h1], "integrations": [int(rows.size)]}
    else:
        reference = np.repeat(nanmedian_over_time(flux)[None, :], n_visits, axis=0)
        described = f"all {cube.n_integrations} integrations"
        info = {"method": "median", "integrations": [cube.n_integrations]}
    reference[~np.isfinite(reference) | (reference == 0)] = np.nan

    # The two outputs are the only full-size allocations (none in place); the arithmetic
    # runs in cache-sized row blocks, in place in the outputs.  In place is safe because
    # the reference is computed above, and each value is read once, just before it is written.
    variability = flux if in_place and _overwritable(flux) else np.empty(flux.shape, dtype=np.float64)
    variability_error = error if in_place and _overwritable(error) else np.empty(error.shape, dtype=np.float64)
    per_visit = method == "visit" and n_visits > 1
    flux_scale = 100.0 / reference  # NaN where the reference is unusable
    error_scales = np.abs(flux_scale)
    visit = cube.visit

    def scale_rows(part: slice) -> None:
        with np.errstate(divide="ignore", invalid="ignore"):
            for block in row_blocks(part.stop - part.start, cube.n_wavelengths):
                rows = slice(part.start + block.start, part.start + block.stop)
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

    # Row parts in threads (stamp_engine.threads): each value is still read once, just before it is written.
    map_pieces(scale_rows, pieces(cube.n_integrations, cube.n_integrations * cube.n_wavelengths))

    meta = dict(cube.meta)
    meta["normalization"] = info
    return cube.replace(
        flux=variability,
        error=variability_error,
        flux_unit=u.percent,
        reference=reference,
        reference_unit=cube.flux_unit,
        meta=meta,
        history=append(
            cube.history, "normalize", info,
            f"normalize ({method}): variability % = (flux / reference − 1) × 100, reference = NaN-aware "
            f"median over {described}; σ = 100·σ_flux/|reference| (reference error neglected)",
        ),
    )


def _overwritable(values: np.ndarray) -> bool:
    """Whether ``values`` can hold the variability itself: a writeable float64 ndarray."""
    return isinstance(values, np.ndarray) and values.dtype == np.float64 and values.flags.writeable
