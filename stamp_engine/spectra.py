"""Spectra made from the cube: transmission / emission depth and variability amplitude per channel.

Both work on :class:`~stamp_engine.channels.ChannelLightCurves` (made here from a cube
with ``width=``, ``R=`` or ``n=``, or one channel per wavelength sample) and on raw
flux as well as on a normalized cube: variability ``v`` (%) is turned into relative flux
``1 + v/100`` first, and since depths and relative amplitudes are ratios of fluxes of the
same channel, they do not depend on the reference spectrum the normalization used.

Time windows are in hours on the cube's own axis (:attr:`stamp_engine.Cube.hours`,
hours since ``t0``), given as one ``(start, end)`` or several (e.g. one per visit);
the ends are included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import astropy.units as u
import numpy as np

from .channels import (
    ChannelLightCurves,
    inverse_variance_mean,
    relative_flux,
    spectroscopic_light_curves,
)
from .windows import Window, Windows, window_rows, windows_text

if TYPE_CHECKING:
    from .cube import Cube

__all__ = ["PPM", "AmplitudeSpectrum", "ChannelSpectrum", "TransmissionSpectrum", "amplitude_spectrum", "transmission_spectrum"]

#: Parts per million, as a scaled dimensionless unit (``1e-06``): written to and read back
#: from ECSV by astropy with no custom unit to register.
PPM = u.Unit(1e-6)

def _channels(data: "Cube | ChannelLightCurves", width: float | None, R: float | None, n: int | None) -> ChannelLightCurves:
    if isinstance(data, ChannelLightCurves):
        if any(v is not None for v in (width, R, n)):
            raise ValueError("the light curves are already binned into channels; width=/R=/n= apply to a cube")
        return data
    return spectroscopic_light_curves(data, width=width, R=R, n=n)


# ------------------------------------------------------------------------ transmission
@dataclass(frozen=True, eq=False)
class ChannelSpectrum:
    """What every spectrum made from channels holds: where the channels are and how it was made.

    Attributes
    ----------
    wavelength : ndarray, shape (n_channels,)
        Channel centres, µm.
    edges : ndarray, shape (n_channels, 2)
        Lower and upper channel edges, µm.
    binning : dict
        How the channels were made (see :class:`~stamp_engine.channels.ChannelLightCurves`).
    description : str
        How the spectrum was made, one paragraph (for headers).
    history : tuple of str
        Processing steps of the cube, then this one.
    meta : dict
        The cube's metadata with ``time_standard`` and ``t0_mjd``.
    """

    wavelength: np.ndarray
    edges: np.ndarray
    binning: dict[str, Any] = field(default_factory=dict, kw_only=True)
    description: str = field(default="", kw_only=True)
    history: tuple[str, ...] = field(default=(), kw_only=True)
    meta: dict[str, Any] = field(default_factory=dict, kw_only=True)

    @property
    def n_channels(self) -> int:
        return int(self.wavelength.size)


@dataclass(frozen=True, eq=False)
class TransmissionSpectrum(ChannelSpectrum):
    """Transit (or eclipse) depth per wavelength channel.

    Attributes (besides those of :class:`ChannelSpectrum`)
    ----------
    depth, error : astropy.units.Quantity, shape (n_channels,)
        Depth and its 1-σ error in ppm (:data:`PPM`; ``.to(u.percent)`` for %).
        NaN for a channel with no finite value in a window.
    kind : {"transit", "eclipse"}
        ``transit``: depth = 1 − F_in/F_out (the fraction of the star blocked);
        ``eclipse``: depth = F_out/F_in − 1 (= F_planet/F_star).
    in_transit_hours, baseline_hours : tuple of (float, float)
        The windows used (hours since ``t0``).
    n_in_transit, n_baseline : int
        Integrations inside the windows (baseline: those compared with an in-transit visit).
    n_in_transit_used, n_baseline_used : ndarray of int, shape (n_channels,)
        Integrations with a usable value (finite, σ > 0) per channel.
    input_unit : str
        Unit of the light curves the depth was made from (``%`` for a normalized cube).
    baseline_scatter : ndarray, shape (n_channels,)
        √(Σ((f − F_out)/σ)²/(N − 1)) over the baseline: the scatter in units of the
        per-integration errors (≈ 1 when they are right; > 1: errors too small or a
        baseline that is not flat).
    errors_scaled : bool
        The errors were multiplied by ``max(1, baseline_scatter)`` (``scale_errors=True``).
    """

    depth: u.Quantity
    error: u.Quantity
    kind: str
    in_transit_hours: tuple[Window, ...]
    baseline_hours: tuple[Window, ...]
    n_in_transit: int
    n_baseline: int
    n_in_transit_used: np.ndarray
    n_baseline_used: np.ndarray
    input_unit: str
    baseline_scatter: np.ndarray
    errors_scaled: bool = False

    @property
    def depth_percent(self) -> u.Quantity:
        return self.depth.to(u.percent)

    @property
    def error_percent(self) -> u.Quantity:
        return self.error.to(u.percent)


def transmission_spectrum(
    data: "Cube | ChannelLightCurves",
    in_transit: Windows,
    baseline: Windows,
    *,
    width: float | None = None,
    R: float | None = None,
    n: int | None = None,
    kind: str = "transit",
    scale_errors: bool = False,
) -> TransmissionSpectrum:
    """Transmission (transit) or emission (eclipse) spectrum from two time windows.

    Per channel, ``F_in`` and ``F_out`` are the inverse-variance weighted means over time
    of the channel's light curve inside the in-transit and the baseline windows, with
    errors ``σ = 1/√Σ(1/σ_i²)``.  Then, with ``q = F_in/F_out`` and
    ``σ_q = q √((σ_in/F_in)² + (σ_out/F_out)²)`` (the two windows hold different
    integrations, so the means are independent):

    * ``kind="transit"``: depth = 1 − q, σ = σ_q;
    * ``kind="eclipse"``: depth = 1/q − 1 (= F_p/F_*), σ = σ_q/q².

    Raw flux and normalized cubes both work: a normalized value ``v`` (%) is relative
    flux ``1 + v/100`` (errors ÷ 100), and the reference spectrum cancels in ``q``, so
    per-pixel channels give the same depths either way; binned channels agree within
    their errors (a channel weights its pixels by 1/σ² of the values it is given:
    flux for a raw cube, relative flux for a normalized one).

    Visits: each visit with integrations in both windows is measured against its own
    baseline, and the visits' depths are combined by inverse variance — so neither a level
    change between visits nor a per-visit normalization reference (a median over a visit
    that holds the transit is pulled down by it) biases the depth.  A visit with
    in-transit integrations but no baseline is pooled with the visits that hold only
    baseline; baseline integrations of visits without a transit are otherwise left out
    (the description says so).  A baseline that starts with a visit and lies off the rest
    of it there (a start ramp) is reported in the description.

    Parameters
    ----------
    data : Cube or ChannelLightCurves
    in_transit, baseline : (float, float) or sequence of them
        Hours since ``t0`` (:attr:`Cube.hours`); the ends are included.  They must not
        share an integration.
    width, R, n : optional
        Channels to bin a cube into (:func:`~stamp_engine.channels.spectroscopic_light_curves`);
        none = one channel per wavelength sample.
    kind : {"transit", "eclipse"}
    scale_errors : bool
        Multiply each channel's errors by its ``baseline_scatter`` where that exceeds 1:
        for data whose pipeline errors are too small (red noise, underestimated read
        noise), so that the depth errors follow the scatter actually seen.

    Returns
    -------
    TransmissionSpectrum
        With ``baseline_scatter`` per channel: √(Σ((f − F_out)/σ)²/(N − 1)) over the
        baseline, ≈ 1 when the per-integration errors describe the scatter.

    Raises
    ------
    ValueError
        A window that is malformed, outside the data or empty (named, with the data's
        range), windows that share integrations, in-transit integrations with no baseline
        to compare them with (named by visit), or an unknown ``kind``.
    """
    if kind not in ("transit", "eclipse"):
        raise ValueError(f"kind must be 'transit' or 'eclipse', not {kind!r}")
    curves = _channels(data, width, R, n)
    what = "in-transit" if kind == "transit" else "in-eclipse"
    rows_in, windows_in = window_rows(curves.hours, curves.visit, in_transit, what)
    rows_out, windows_out = window_rows(curves.hours, curves.visit, baseline, "baseline")
    shared = np.intersect1d(rows_in, rows_out)
    if shared.size:
        raise ValueError(
            f"the {what} windows {windows_text(windows_in)} and the baseline windows {windows_text(windows_out)} "
            f"share {shared.size} integration(s) (at {curves.hours[shared[0]]:.4g} h…); they must not overlap"
        )
    groups, unused = _visit_groups(curves.visit, rows_in, rows_out, what)
    flux, error = relative_flux(curves.flux, curves.error, curves.unit)
    squares, counts = zip(*(_baseline_squares(flux[out], error[out]) for _, out in groups))
    with np.errstate(divide="ignore", invalid="ignore"):
        # each group's baseline has its own mean: one degree of freedom per group with data
        free = np.sum(counts, axis=0) - np.sum([c > 0 for c in counts], axis=0)
        scatter = np.where(free > 0, np.sqrt(np.sum(squares, axis=0) / free), np.nan)
    factor = np.where(np.isfinite(scatter), np.maximum(scatter, 1.0), 1.0) if scale_errors else 1.0
    per_group = [_window_depth(flux, error, inside, out, factor, kind) for inside, out in groups]
    depth, sigma = per_group[0] if len(per_group) == 1 else inverse_variance_mean(
        np.array([d for d, _ in per_group]), np.array([e for _, e in per_group]), axis=0)
    rows_out = np.sort(np.concatenate([out for _, out in groups]))

    def usable(rows: np.ndarray) -> np.ndarray:
        f, e = flux[rows], error[rows]
        with np.errstate(invalid="ignore"):
            return (np.isfinite(f) & np.isfinite(e) & (e > 0)).sum(axis=0).astype(np.int64)

    formula = "1 − F_in/F_out" if kind == "transit" else "F_out/F_in − 1"
    ramp = _start_ramp_warning(curves.hours, curves.visit, flux, error, rows_out)
    description = (
        f"{kind} depth = {formula} per channel; F = inverse-variance weighted mean over the "
        f"{rows_in.size} integrations in {windows_text(windows_in)} ({what}) and the {rows_out.size} in "
        f"{windows_text(windows_out)} (baseline), hours since t0 ({curves.time_standard})"
        f"{_groups_text(curves.visit, groups, unused)}; errors propagated from the per-integration errors"
        f"{' × max(1, baseline scatter / error)' if scale_errors else ''}; "
        f"channels: {curves.description}{ramp}"
    )
    meta = {**curves.meta, "time_standard": curves.time_standard, "t0_mjd": curves.t0_mjd}
    return TransmissionSpectrum(
        wavelength=curves.wavelength, edges=curves.edges, depth=(depth / 1e-6) * PPM, error=(sigma / 1e-6) * PPM,
        kind=kind, in_transit_hours=windows_in, baseline_hours=windows_out, n_in_transit=int(rows_in.size),
        n_baseline=int(rows_out.size), n_in_transit_used=usable(rows_in), n_baseline_used=usable(rows_out),
        input_unit=_unit_text(curves.unit), baseline_scatter=scatter, errors_scaled=bool(scale_errors),
        binning=dict(curves.binning), description=description,
        history=(*curves.history, f"{kind} spectrum: {description}"), meta=meta,
    )


def _visit_groups(visit: np.ndarray, rows_in: np.ndarray, rows_out: np.ndarray,
                  what: str) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """The (in-window rows, baseline rows) each depth is measured on, and the baseline rows left unused.

    A visit with integrations in both windows is compared with its own baseline only, so
    that its level (raw flux, or the reference a per-visit normalization divided by, which
    a median over the whole visit pulls down when it holds the transit) cancels in
    F_in/F_out.  The visits with in-window integrations but no baseline are pooled with the
    visits that hold only baseline (one group: their levels are assumed equal).  Groups
    share no integration, so their depths are independent.  Baseline rows of visits that
    hold no in-window integration, when every in-window visit has its own baseline, are
    not used (their level need not be that of the transit's visit).
    """
    v_in, v_out = visit[rows_in], visit[rows_out]
    own = np.intersect1d(v_in, v_out)
    groups = [(rows_in[v_in == v], rows_out[v_out == v]) for v in own]
    rest_in, rest_out = rows_in[~np.isin(v_in, own)], rows_out[~np.isin(v_out, own)]
    if rest_in.size and not rest_out.size:
        raise ValueError(f"the {what} integrations of visit(s) {', '.join(map(str, np.unique(visit[rest_in])))} have no "
                         "baseline: give a baseline window in that visit (or in a visit without a transit)")
    if rest_in.size:
        groups.append((rest_in, rest_out))
        rest_out = rest_out[:0]
    return groups, rest_out


def _window_depth(flux: np.ndarray, error: np.ndarray, rows_in: np.ndarray, rows_out: np.ndarray,
                  factor: np.ndarray | float, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Depth and σ per channel from the inverse-variance means over ``rows_in`` and ``rows_out``
    (errors × ``factor``)."""
    f_in, s_in = inverse_variance_mean(flux[rows_in], error[rows_in], axis=0)
    f_out, s_out = inverse_variance_mean(flux[rows_out], error[rows_out], axis=0)
    s_in, s_out = s_in * factor, s_out * factor
    with np.errstate(divide="ignore", invalid="ignore"):
        q = f_in / f_out
        s_q = np.abs(q) * np.hypot(s_in / f_in, s_out / f_out)
        return (1.0 - q, s_q) if kind == "transit" else (1.0 / q - 1.0, s_q / q**2)


def _baseline_squares(flux: np.ndarray, error: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Σ((f − F)/σ)² per column over the usable values, F their inverse-variance mean, and their count."""
    mean, _ = inverse_variance_mean(flux, error, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        usable = np.isfinite(flux) & np.isfinite(error) & (error > 0)
        z = np.where(usable, (flux - mean[None, :]) / np.where(usable, error, 1.0), 0.0)
        return (z**2).sum(axis=0), usable.sum(axis=0)


#: Share of a visit's span at its start where a settling ramp is looked for in the baseline.
RAMP_SHARE = 0.1
#: |z| of the start of a baseline against the rest of it (all channels together) that is reported.
RAMP_Z = 5.0


def _start_ramp_warning(hours: np.ndarray, visit: np.ndarray, flux: np.ndarray, error: np.ndarray,
                        rows_out: np.ndarray) -> str:
    """A warning when a baseline that starts with its visit lies off the rest of that baseline there.

    JWST time series often begin with a ramp (the detector settling) that a baseline
    window from the first integration averages in, biasing every depth the same way (by
    ~2 σ for a 0.3 % ramp of 15 min in a 10 h visit).  Per visit whose baseline holds its
    first integration: the baseline integrations in the first :data:`RAMP_SHARE` of the
    visit against the other baseline ones, ``z_c = (F_early − F_rest)/σ`` per channel, and
    ``z = Σ z_c / √N`` over the N channels with both (a ramp is common to all of them; for
    noise ``z`` ~ N(0, 1)).  Reported when ``|z| >`` :data:`RAMP_Z`; nothing is changed.
    """
    found = []
    for v in np.unique(visit[rows_out]):
        rows = np.flatnonzero(visit == v)
        own = rows_out[visit[rows_out] == v]
        if own[0] != rows[0]:
            continue
        start, span = hours[rows[0]], hours[rows[-1]] - hours[rows[0]]
        early = own[hours[own] <= start + RAMP_SHARE * span]
        rest = own[hours[own] > start + RAMP_SHARE * span]
        if early.size < 3 or rest.size < 3:
            continue
        f_early, s_early = inverse_variance_mean(flux[early], error[early], axis=0)
        f_rest, s_rest = inverse_variance_mean(flux[rest], error[rest], axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (f_early - f_rest) / np.hypot(s_early, s_rest)
        z = z[np.isfinite(z)]
        if z.size and abs(combined := z.sum() / np.sqrt(z.size)) > RAMP_Z:
            level = np.nanmedian((f_early - f_rest) / f_rest) * 100
            found.append(f"visit {v}: the baseline's first {hours[early[-1]] - start:.3g} h lie {level:+.3g} % "
                         f"off the rest of it (z = {combined:+.1f} over {z.size} channels)")
    if not found:
        return ""
    return (". Warning: a start ramp in the baseline? " + "; ".join(found)
            + " — start the baseline window later, or every depth is biased")


def _groups_text(visit: np.ndarray, groups: list[tuple[np.ndarray, np.ndarray]], unused: np.ndarray) -> str:
    """How the visits were compared, for the description (empty for one visit against itself)."""
    def names(rows: np.ndarray) -> str:
        labels = np.unique(visit[rows])
        return f"visit{'s' if labels.size > 1 else ''} {', '.join(map(str, labels))}"

    own = [names(inside) for inside, out in groups if np.array_equal(np.unique(visit[inside]), np.unique(visit[out]))]
    pooled = [f"{names(inside)} against the baseline of {names(out)}, their levels assumed equal"
              for inside, out in groups if not np.array_equal(np.unique(visit[inside]), np.unique(visit[out]))]
    if len(groups) == 1 and own and not unused.size:  # one visit against its own baseline: nothing to say
        return ""
    parts = ([f"each in-window visit against the baseline of its own visit ({'; '.join(own)})"] if own else []) + pooled
    text = "; " + "; ".join(parts)
    if len(groups) > 1:
        text += ", depths combined by inverse variance"
    if unused.size:
        text += (f"; the {unused.size} baseline integrations of {names(unused)}, which hold no in-window integration, "
                 "are not used (their level need not be that of the others)")
    return text


def _unit_text(unit: u.UnitBase) -> str:
    return "%" if unit == u.percent else unit.to_string()


# --------------------------------------------------------------------------- amplitude
@dataclass(frozen=True, eq=False)
class AmplitudeSpectrum(ChannelSpectrum):
    """A sinusoid of fixed period fitted to every channel: amplitude and phase vs wavelength.

    The model of channel ``c`` is ``y(t) = c_v + A sin(2π t/P + φ)`` with ``t`` in hours
    since ``t0`` and one offset ``c_v`` per visit (or one for all).

    Attributes (besides those of :class:`ChannelSpectrum`)
    ----------
    period : astropy.units.Quantity
        The period used, hours.
    amplitude, amplitude_error : astropy.units.Quantity, shape (n_channels,)
        Semi-amplitude A and its 1-σ error in the light curves' unit.
    relative_amplitude, relative_amplitude_error : astropy.units.Quantity
        A divided by the channel's mean level (relative flux; the offsets averaged over
        integrations), in %.  For a normalized cube this is A/(100 % + offset).
    phase, phase_error : astropy.units.Quantity
        φ in radians, in (−π, π], measured at t = 0 (``t0``).
    chi2_reduced : ndarray
        Σ((y − model)/σ)² / (N − k) per channel: ≈ 1 when the errors and the model are right.
    n_points : ndarray of int
        Integrations used per channel (finite value, σ > 0).
    per_visit_offset : bool
        One offset per visit (True) or one for all.
    input_unit : str
        Unit of the light curves fitted (``%`` for a normalized cube).
    """

    period: u.Quantity
    amplitude: u.Quantity
    amplitude_error: u.Quantity
    relative_amplitude: u.Quantity
    relative_amplitude_error: u.Quantity
    phase: u.Quantity
    phase_error: u.Quantity
    chi2_reduced: np.ndarray
    n_points: np.ndarray
    per_visit_offset: bool
    input_unit: str


def _design_matrix(hours: np.ndarray, visit: np.ndarray, period_hours: float, per_visit_offset: bool) -> np.ndarray:
    """Columns: one offset per visit (or one), sin(ωt), cos(ωt)."""
    angle = 2.0 * np.pi * hours / period_hours
    if per_visit_offset:
        labels = np.unique(visit)
        offsets = (visit[:, None] == labels[None, :]).astype(np.float64)
    else:
        offsets = np.ones((hours.size, 1))
    return np.column_stack([offsets, np.sin(angle), np.cos(angle)])


def amplitude_spectrum(
    data: "Cube | ChannelLightCurves",
    period_hours: float | None = None,
    *,
    width: float | None = None,
    R: float | None = None,
    n: int | None = None,
    per_visit_offset: bool = True,
) -> AmplitudeSpectrum:
    """Fit ``c_v + a sin(ωt) + b cos(ωt)`` to every channel at a fixed period: the amplitude spectrum.

    For a fixed period the model is linear, so each channel is solved by weighted linear
    least squares (weights 1/σ², NaN values and σ ≤ 0 skipped), all channels at once
    (batched normal equations ``XᵀWX p = XᵀWy``); the covariance of ``p`` is
    ``(XᵀWX)⁻¹``.  Then ``A = √(a² + b²)``, ``φ = atan2(b, a)`` (so the model is
    ``A sin(ωt + φ)``), and their errors, as that of ``A / mean level``, come from the
    Jacobian and the full covariance.  ``A`` is positive by construction, so it is biased
    high where A/σ_A ≲ 3 (Rician bias); φ is then poorly defined.

    Parameters
    ----------
    data : Cube or ChannelLightCurves
        Raw flux or normalized (variability %).
    period_hours : float, optional
        The period; by default the peak of the white light's Lomb–Scargle periodogram
        (:func:`stamp_engine.periodogram.periodogram`).
    width, R, n : optional
        Channels for a cube (see :func:`~stamp_engine.channels.spectroscopic_light_curves`).
    per_visit_offset : bool
        One offset per visit (level changes between visits are not variability).

    Raises
    ------
    ValueError
        A non-positive or non-finite period.
    """
    curves = _channels(data, width, R, n)
    if period_hours is None:
        from .periodogram import periodogram

        period_hours = float(periodogram(curves.white_light()).peak_period.to_value(u.hour))
        chosen = f"the white light's Lomb–Scargle peak, {period_hours:.6g} h"
    else:
        period_hours = float(period_hours)
        chosen = f"{period_hours:.6g} h (given)"
    if not np.isfinite(period_hours) or period_hours <= 0:
        raise ValueError(f"the period must be a positive number of hours, not {period_hours!r}")
    y = np.asarray(curves.flux, dtype=float)
    sigma = np.asarray(curves.error, dtype=float)
    X = _design_matrix(curves.hours, curves.visit, period_hours, per_visit_offset)
    k = X.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        usable = np.isfinite(y) & np.isfinite(sigma) & (sigma > 0)
        w = np.where(usable, 1.0 / np.where(usable, sigma, 1.0) ** 2, 0.0)
    yf = np.where(usable, y, 0.0)
    # XᵀWX and XᵀWy of every channel as two matrix products (BLAS), not a loop over channels
    products = (X[:, :, None] * X[:, None, :]).reshape(X.shape[0], k * k)
    normal = (w.T @ products).reshape(curves.n_channels, k, k)
    rhs = (w * yf).T @ X
    # an offset column with no data in a channel (a visit without values there) is unconstrained:
    # pin it with a unit diagonal so the system stays solvable; its coefficient comes out 0
    empty = np.einsum("cii->ci", normal) <= 0
    channel, column = np.nonzero(empty)
    normal[channel, column, column] = 1.0
    n_points = usable.sum(axis=0)
    n_free = (~empty).sum(axis=1)
    solvable = (n_points > n_free) & ~empty[:, -1] & ~empty[:, -2]
    params = np.full((curves.n_channels, k), np.nan)
    cov = np.full((curves.n_channels, k, k), np.nan)
    if solvable.any():
        cov[solvable] = np.linalg.inv(normal[solvable])
        params[solvable] = np.einsum("cij,cj->ci", cov[solvable], rhs[solvable])
    a, b = params[:, -2], params[:, -1]
    amplitude = np.hypot(a, b)
    phase = np.arctan2(b, a)
    # mean level: offsets weighted by the integrations of each visit with data
    n_offsets = k - 2
    counts = usable.T.astype(np.float64) @ X[:, :n_offsets]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = counts / counts.sum(axis=1, keepdims=True)
        level = (share * params[:, :n_offsets]).sum(axis=1)
        level_rel = level + 100.0 if curves.unit == u.percent else level
        jac = np.zeros((curves.n_channels, 3, k))
        jac[:, 0, -2], jac[:, 0, -1] = a / amplitude, b / amplitude  # ∂A
        jac[:, 1, -2], jac[:, 1, -1] = -b / amplitude**2, a / amplitude**2  # ∂φ
        relative = amplitude / level_rel
        jac[:, 2, :] = jac[:, 0, :] / level_rel[:, None]
        jac[:, 2, :n_offsets] -= (relative / level_rel)[:, None] * share  # ∂(A/level)
        errors = np.sqrt(np.clip(np.einsum("cri,cij,crj->cr", jac, cov, jac), 0.0, None))
        model = X @ np.nan_to_num(params).T
        chi2 = (w * (yf - model) ** 2).sum(axis=0) / (n_points - n_free)
    chi2[~solvable] = np.nan
    unit = curves.unit
    offsets_text = "one offset per visit" if per_visit_offset else "one offset"
    description = (
        f"sinusoid y = c + A sin(2π t/P + φ) ({offsets_text}) fitted per channel by weighted linear least "
        f"squares at P = {chosen}; t = hours since t0 ({curves.time_standard}, t0 = MJD "
        f"{curves.t0_mjd:.8f}); errors from the covariance; channels: {curves.description}"
    )
    meta = {**curves.meta, "time_standard": curves.time_standard, "t0_mjd": curves.t0_mjd}
    return AmplitudeSpectrum(
        wavelength=curves.wavelength, edges=curves.edges, period=period_hours * u.hour,
        amplitude=amplitude * unit, amplitude_error=errors[:, 0] * unit,
        relative_amplitude=(100.0 * relative) * u.percent, relative_amplitude_error=(100.0 * errors[:, 2]) * u.percent,
        phase=phase * u.rad, phase_error=errors[:, 1] * u.rad, chi2_reduced=chi2, n_points=n_points.astype(np.int64),
        per_visit_offset=per_visit_offset, input_unit=_unit_text(unit), binning=dict(curves.binning),
        description=description, history=(*curves.history, f"amplitude spectrum: {description}"), meta=meta,
    )
