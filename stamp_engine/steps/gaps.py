"""Interpolate gaps: fill missing integrations with rows interpolated linearly in time."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
from astropy.time import Time

from ..history import HistoryStep, append
from ..labels import interpolated_flags, with_interpolated

if TYPE_CHECKING:
    from ..cube import Cube


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
    parameters = {"cadence_hours": cadence_hours, "across_visits": bool(across_visits), "added": n_added}
    limit_rows = 20 * n + 1000 if max_integrations is None else int(max_integrations)
    if n + n_added > limit_rows:
        where = "between and inside visits" if across_visits else "inside visits"
        raise ValueError(
            f"filling the gaps {where} every {cadence_hours * 3600:.4g} s would make {n + n_added} "
            f"integrations from {n} (limit {limit_rows}); choose a larger cadence_hours or select one visit"
        )
    if n_added == 0 and not (across_visits and cube.n_visits > 1):
        return cube.replace(history=append(cube.history, "interpolate_gaps", parameters, "interpolate gaps: no gap to fill"))

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
    old_flags = interpolated_flags(cube)
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
    sentences = [
        f"interpolate gaps: {n_added} row(s) added in {n_gaps} gap(s) "
        f"{'between and inside visits' if across_visits else 'inside visits'}, every "
        f"{cadence_hours * 3600:.4g} s, linear in time with no error; the {n} measured integrations unchanged"
    ]
    reference = cube.reference
    if across_visits:
        visit = np.zeros(n_out, dtype=np.int32)
        sentences[0] += "; one visit"
        if reference is not None and len(reference) > 1:
            if not all(np.array_equal(r, reference[0], equal_nan=True) for r in reference[1:]):
                sentences.append(
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
        meta=with_interpolated(cube.meta, flags),
        history=(
            *append(cube.history, "interpolate_gaps", parameters, sentences[0]),
            *(HistoryStep("interpolate_gaps", {"reference": "mean of the visits"}, s) for s in sentences[1:]),
        ),
    )
