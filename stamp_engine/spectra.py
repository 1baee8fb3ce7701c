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
        Integrations inside the windows.
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
    flux for a raw cube, relative flux for a normalized one).  For several visits with different flux levels, normalize per visit first
    (``cube.normalize("visit")``), and give windows in every visit.

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
        range), windows that share integrations, or an unknown ``kind``.
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
    flux, error = relative_flux(curves.flux, curves.error, curves.unit)
    f_in, s_in = inverse_variance_mean(flux[rows_in], error[rows_in], axis=0)
    f_out, s_out = inverse_variance_mean(flux[rows_out], error[rows_out], axis=0)
    scatter = _baseline_scatter(flux[rows_out], error[rows_out], f_out)
    if scale_errors:
        factor = np.where(np.isfinite(scatter), np.maximum(scatter, 1.0), 1.0)
        s_in, s_out = s_in * factor, s_out * factor
    with np.errstate(divide="ignore", invalid="ignore"):
        q = f_in / f_out
        s_q = np.abs(q) * np.hypot(s_in / f_in, s_out / f_out)
        depth, sigma = (1.0 - q, s_q) if kind == "transit" else (1.0 / q - 1.0, s_q / q**2)

    def usable(rows: np.ndarray) -> np.ndarray:
        f, e = flux[rows], error[rows]
        with np.errstate(invalid="ignore"):
            return (np.isfinite(f) & np.isfinite(e) & (e > 0)).sum(axis=0).astype(np.int64)

    formula = "1 − F_in/F_out" if kind == "transit" else "F_out/F_in − 1"
    description = (
        f"{kind} depth = {formula} per channel; F = inverse-variance weighted mean over the "
        f"{rows_in.size} integrations in {windows_text(windows_in)} ({what}) and the {rows_out.size} in "
        f"{windows_text(windows_out)} (baseline), hours since t0 ({curves.time_standard}); errors propagated "
        f"from the per-integration errors{' × max(1, baseline scatter / error)' if scale_errors else ''}; "
        f"channels: {curves.description}"
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


def _baseline_scatter(flux: np.ndarray, error: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """√(Σ((f − mean)/σ)²/(N − 1)) per column over the usable values (NaN for N < 2)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        usable = np.isfinite(flux) & np.isfinite(error) & (error > 0)
        z = np.where(usable, (flux - mean[None, :]) / np.where(usable, error, 1.0), 0.0)
        n = usable.sum(axis=0)
        return np.where(n > 1, np.sqrt((z**2).sum(axis=0) / (n - 1)), np.nan)


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
