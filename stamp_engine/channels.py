"""Spectroscopic light curves: the cube binned into wavelength channels.

A channel is a wavelength range; its light curve is, per integration, the error-weighted
mean of the cube's values whose wavelength sample lies inside it (the rule of
:func:`stamp_engine.steps.light_curves.band_light_curve`, applied to every channel at once with
``np.add.reduceat`` — no loop over integrations or channels).  Channels are made

* by width in µm (``width=0.1``), equal channels from the first pixel's lower edge;
* by resolving power (``R=50``): channels of constant ``Δ ln λ = 1/R`` (so λ/Δλ ≈ R),
  as chromatic's ``bin(R=)``;
* by number (``n=20``): equal widths over the data, as Eureka!'s ``nspecchan``.

Pixel edges are the midpoints between wavelength samples (the outer edges extrapolated
by half a step); a pixel belongs to the channel holding its centre.  Channels holding
no sample are dropped (their count is recorded in ``description``); a channel holding one
sample takes that sample's wavelength and pixel edges (the data say nothing finer).

:func:`divide_by_white` gives the spectroscopic residuals (common-mode removal): each
channel divided by the white light made from the same channels, with the covariance
between a channel and the white light it is part of propagated.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import astropy.units as u
import numpy as np
from astropy.time import Time

from .grid import TimeWavelengthGrid
from .noisy_channels import point_to_point_scatter
from .statistics import inverse_variance_mean, row_blocks
from .steps.light_curves import LightCurve
from .windows import Windows, window_rows, windows_text

if TYPE_CHECKING:
    from .cube import Cube

__all__ = [
    "ChannelLightCurves", "channel_edges", "divide_by_white", "inverse_variance_mean", "relative_flux", "stacking_spacing",
    "spectroscopic_light_curves",
]


@dataclass(frozen=True, eq=False)
class ChannelLightCurves(TimeWavelengthGrid):
    """One light curve per wavelength channel, on the cube's time axis.

    Attributes
    ----------
    wavelength : ndarray, shape (n_channels,)
        Channel centre, µm: the mean of the edges; a channel holding a single sample is that
        sample, at its own wavelength between its pixel's edges.
    edges : ndarray, shape (n_channels, 2)
        Lower and upper edge of each channel, µm.
    time : astropy.time.Time, shape (n_int,)
    hours : ndarray, shape (n_int,)
        Hours since the cube's ``t0`` (:attr:`stamp_engine.Cube.hours`).
    flux, error : ndarray, shape (n_int, n_channels)
        Channel value and 1-σ error in ``unit`` (NaN where the channel has no finite value).
    unit : astropy.units.UnitBase
        The cube's unit (``u.percent`` for a normalized cube).
    visit : ndarray of int, shape (n_int,)
    n_pixels : ndarray of int, shape (n_channels,)
        Wavelength samples in each channel.
    time_label : str
    time_standard : str
    t0_mjd : float
        Origin of ``hours``: MJD-style number in the cube's time scale (:attr:`Cube.t0_mjd`).
    binning : dict
        How the channels were made: ``{"width_um": …}``, ``{"R": …}``, ``{"n": …}`` or
        ``{"pixels": True}``; plus ``"dropped_empty"`` (channels without a sample).
    description : str
        One sentence saying how the light curves were made (for headers).
    history : tuple of str
        The cube's processing history followed by this step.
    meta : dict
        The cube's metadata (target, instrument…).
    """

    wavelength: np.ndarray
    edges: np.ndarray
    time: Time
    hours: np.ndarray
    flux: np.ndarray
    error: np.ndarray
    unit: u.UnitBase
    visit: np.ndarray
    n_pixels: np.ndarray
    time_label: str = "Time, hours"
    time_standard: str = "BJD_TDB"
    t0_mjd: float = float("nan")
    binning: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    history: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    #: Its wavelength columns are the channels.
    n_channels = TimeWavelengthGrid.n_wavelengths

    @property
    def is_normalized(self) -> bool:
        return self.unit == u.percent

    def channel(self, index: int) -> LightCurve:
        """Channel ``index`` as a :class:`~stamp_engine.steps.light_curves.LightCurve`."""
        lo, hi = (float(x) for x in self.edges[index])
        return LightCurve(
            name=f"{lo:.4f}–{hi:.4f} µm", band=(lo, hi), time=self.time, hours=self.hours,
            value=self.flux[:, index], error=self.error[:, index], unit=self.unit, visit=self.visit,
            time_label=self.time_label, time_standard=self.time_standard,
        )

    def light_curves(self) -> list[LightCurve]:
        """Every channel as a :class:`~stamp_engine.steps.light_curves.LightCurve` (e.g. for the light-curve ECSV)."""
        return [self.channel(i) for i in range(self.n_channels)]

    def white_light(self) -> LightCurve:
        """The error-weighted mean of all channels: the white light of the same pixels."""
        value, error = inverse_variance_mean(self.flux, self.error, axis=1)
        lo, hi = float(self.edges[0, 0]), float(self.edges[-1, 1])
        return LightCurve(
            name="White light", band=(lo, hi), time=self.time, hours=self.hours, value=value, error=error,
            unit=self.unit, visit=self.visit, time_label=self.time_label, time_standard=self.time_standard,
        )

    def offset_stacked(self, spacing: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Values for an offset-stacked plot, and the offset of each channel.

        Each channel is centred on its median over time (channels of raw flux have very
        different levels) and moved down by ``i × spacing``; ``spacing`` (in ``unit``)
        defaults to :func:`stacking_spacing` of the centred curves, so that no curve
        reaches into its neighbour's, whatever its noise or a transit's depth.
        """
        centred = self.centred()
        if spacing is None:
            spacing = stacking_spacing(centred)
        offsets = -spacing * np.arange(self.n_channels)
        return centred + offsets[None, :], offsets

    def centred(self) -> np.ndarray:
        """Each channel minus its median over time (NaN-aware; all-NaN channels stay NaN)."""
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return self.flux - np.nanmedian(self.flux, axis=0)


#: Offset-stacked curves: at least this many noise σ of the median channel apart, and each curve
#: reaches at least half this many of its own noise σ either side (σ from one point to the next,
#: :func:`stamp_engine.noisy_channels.point_to_point_scatter`: the noise, not a transit or a rotation).
STACK_SIGMAS = 5.0
#: Each curve's extent for stacking: these percentiles of its values over time (a transit or an eclipse
#: longer than 2.5 % of the series is inside; a lone outlying point is not, and may cross a neighbour).
STACK_PERCENTILES = (2.5, 97.5)
#: Room left between the extents of neighbouring curves, as a fraction of the spacing.
STACK_MARGIN = 0.1


def stacking_spacing(centred: np.ndarray) -> float:
    """Offset between neighbouring curves of an offset-stacked plot (channel ``i`` drawn ``i`` offsets down).

    The largest of :data:`STACK_SIGMAS` × the median channel's noise σ (robust,
    point to point) and, over every pair of neighbours, the room the pair needs: from the
    bottom of the upper curve's extent to the top of the lower one's, plus
    :data:`STACK_MARGIN`.  A curve's extent is its :data:`STACK_PERCENTILES` over time
    (so a transit counts), and at least ± :data:`STACK_SIGMAS`/2 × its own noise σ (so
    its noise counts): a noisy channel moves its neighbours apart instead of
    overlapping them.

    Parameters
    ----------
    centred : ndarray, shape (n_time, n_channels)
        Each channel minus its median over time, as drawn (binned or not).
    """
    centred = np.asarray(centred, dtype=float)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN channels give NaN
        low, high = np.nanpercentile(centred, STACK_PERCENTILES, axis=0)
    scatter = point_to_point_scatter(centred, normalize=False)
    reach = 0.5 * STACK_SIGMAS * np.where(np.isfinite(scatter), scatter, 0.0)
    low, high = np.fmin(low, -reach), np.fmax(high, reach)
    typical = scatter[np.isfinite(scatter) & (scatter > 0)]
    by_noise = STACK_SIGMAS * float(np.median(typical)) if typical.size else 0.0
    need = high[1:] - low[:-1]  # channel i + 1 sits one spacing below channel i
    need = need[np.isfinite(need)]
    by_extent = float(np.max(need)) / (1.0 - STACK_MARGIN) if need.size else 0.0
    if need.size == 0 and np.isfinite(high - low).any():  # one channel: its own extent
        by_extent = float(np.nanmax(high - low))
    return max(by_noise, by_extent) or 1.0


def _pixel_edges(wavelength: np.ndarray) -> np.ndarray:
    """Edges (n+1) of pixels centred on ``wavelength`` (µm, ascending)."""
    if wavelength.size == 1:
        return np.array([wavelength[0] * (1 - 1e-6), wavelength[0] * (1 + 1e-6)])
    middle = 0.5 * (wavelength[1:] + wavelength[:-1])
    return np.concatenate([[2 * wavelength[0] - middle[0]], middle, [2 * wavelength[-1] - middle[-1]]])


def channel_edges(
    wavelength: np.ndarray, *, width: float | None = None, R: float | None = None, n: int | None = None
) -> np.ndarray:
    """Channel edges (µm, ascending, shape (n_channels + 1,)) covering ``wavelength``.

    Exactly one of ``width`` (µm), ``R`` (λ/Δλ, constant Δ ln λ = 1/R) or ``n`` (equal
    channels) is given; with none, each wavelength sample is its own channel.

    Raises
    ------
    ValueError
        More than one of width/R/n, a non-positive or non-finite value, or no wavelengths.
    """
    wavelength = np.asarray(wavelength, dtype=float)
    if wavelength.size == 0:
        raise ValueError("the cube has no wavelengths to make channels from")
    given = {k: v for k, v in {"width": width, "R": R, "n": n}.items() if v is not None}
    if len(given) > 1:
        raise ValueError(f"give one of width=, R= or n= for the channels, not {' and '.join(given)}")
    pixel = _pixel_edges(wavelength)
    lo, hi = float(pixel[0]), float(pixel[-1])
    if not given:
        return pixel
    (name, value), = given.items()
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"channel {name}= must be a positive number, not {value!r}")
    if name == "width":
        count = max(1, int(np.ceil((hi - lo) / width * (1 - 1e-12))))
        return lo + width * np.arange(count + 1)
    if name == "R":
        if lo <= 0:
            raise ValueError(f"R= needs positive wavelengths; the data start at {lo:g} µm")
        step = 1.0 / R
        count = max(1, int(np.ceil(np.log(hi / lo) / step * (1 - 1e-12))))
        return lo * np.exp(step * np.arange(count + 1))
    if int(n) != n:
        raise ValueError(f"channel n= must be a whole number, not {n!r}")
    return np.linspace(lo, hi, int(n) + 1)


def spectroscopic_light_curves(
    cube: "Cube", *, width: float | None = None, R: float | None = None, n: int | None = None
) -> ChannelLightCurves:
    """Bin the cube into wavelength channels: one error-weighted light curve per channel.

    Parameters
    ----------
    cube : Cube
        Raw flux or normalized (variability %); the light curves keep its unit.
    width : float, optional
        Channel width in µm.
    R : float, optional
        Resolving power λ/Δλ of the channels (constant in ln λ).
    n : int, optional
        Number of equal-width channels.
        With none of width/R/n, every wavelength sample is a channel.

    Returns
    -------
    ChannelLightCurves
        Per integration and channel: value = Σwf/Σw, error = 1/√Σw with w = 1/σ² over the
        channel's finite values with σ > 0 (σ = 0 is "unknown", as ``extract_1d`` writes
        next to NaN flux; without any usable σ, the plain mean and standard deviation/√N,
        as :func:`~stamp_engine.steps.light_curves.band_light_curve`).  A channel whose columns
        are all NaN stays, with NaN values.

    Raises
    ------
    ValueError
        Bad width/R/n (see :func:`channel_edges`) or an empty cube.
    """
    if cube.n_integrations == 0:
        raise ValueError("the cube has no integrations to make light curves from")
    edges = channel_edges(cube.wavelength, width=width, R=R, n=n)
    # pixel → channel by its centre (a centre on an edge goes to the upper channel)
    index = np.clip(np.searchsorted(edges, cube.wavelength, side="right") - 1, 0, edges.size - 2)
    used, starts, n_pixels = np.unique(index, return_index=True, return_counts=True)
    flux = np.empty((cube.n_integrations, used.size))
    error = np.empty_like(flux)
    for rows in row_blocks(cube.n_integrations, cube.n_wavelengths):  # cache-sized blocks: no cube-sized temporaries
        flux[rows], error[rows] = inverse_variance_mean(cube.flux[rows], cube.error[rows], axis=1, starts=starts)
    channel_edges_used = np.column_stack([edges[used], edges[used + 1]])
    centres = channel_edges_used.mean(axis=1)
    # A channel holding one sample is that sample: its pixel's edges and its own wavelength, not the
    # middle of whatever bin it fell in (a 4-channel Eureka! file cut into 10 channels labelled its
    # 1.1025 µm channel 1.151 µm).
    single = n_pixels == 1
    if single.any():
        pixel = _pixel_edges(cube.wavelength)
        sample = starts[single]
        channel_edges_used[single] = np.column_stack([pixel[sample], pixel[sample + 1]])
        centres[single] = cube.wavelength[sample]
    dropped = int(edges.size - 1 - used.size)
    if width is not None:
        binning: dict[str, Any] = {"width_um": float(width)}
        how = f"channels of {width:g} µm"
    elif R is not None:
        binning = {"R": float(R)}
        how = f"channels of resolving power R = λ/Δλ = {R:g} (Δ ln λ = 1/R)"
    elif n is not None:
        binning = {"n": int(n)}
        how = f"{int(n)} equal-width channels"
    else:
        binning = {"pixels": True}
        how = "one channel per wavelength sample"
    binning["dropped_empty"] = dropped
    description = (
        f"{how} over {edges[0]:.4f}–{edges[-1]:.4f} µm ({used.size} channel(s) with samples"
        f"{f', {dropped} empty dropped' if dropped else ''}); per integration the inverse-variance "
        f"weighted mean of the channel's finite values, error 1/√Σ(1/σ²)"
    )
    return ChannelLightCurves(
        wavelength=centres, edges=channel_edges_used, time=cube.time, hours=cube.hours,
        flux=flux, error=error, unit=cube.flux_unit, visit=cube.visit, n_pixels=n_pixels.astype(np.int64),
        time_label=cube.time_label, time_standard=cube.time_standard, t0_mjd=cube.t0_mjd, binning=binning, description=description,
        history=(*cube.history, f"spectroscopic light curves: {description}"), meta=dict(cube.meta),
    )


def relative_flux(values: np.ndarray, errors: np.ndarray, unit: u.UnitBase) -> tuple[np.ndarray, np.ndarray]:
    """Values as relative flux: variability ``v`` (%) → ``1 + v/100`` (σ/100); other units unchanged.

    Ratios of relative fluxes are the same as ratios of the original fluxes whatever
    reference the normalization used, so depths and residuals do not depend on it.
    """
    if unit == u.percent:
        return 1.0 + np.asarray(values) / 100.0, np.asarray(errors) / 100.0
    return np.asarray(values), np.asarray(errors)


def divide_by_white(curves: ChannelLightCurves, baseline: Windows | None = None) -> ChannelLightCurves:
    """Spectroscopic residuals: each channel divided by the white light (common-mode removal).

    The white light is the error-weighted mean of the same channels
    (:meth:`ChannelLightCurves.white_light`), so it shares each channel's noise: with
    ``r = f_c / f_w``, ``cov(f_c, f_w) = σ_w²`` and

        σ_r² = r² (σ_c²/f_c² + σ_w²/f_w² − 2 σ_w²/(f_c f_w)).

    Each channel's ratio is then divided by its level ``r₀``, so the result is the
    channel's relative deviation from the white light in % around 0,
    ``100 (r / r₀ − 1)``; ``r₀`` is the inverse-variance mean of ``r`` over the
    ``baseline`` windows (hours since t0), or without them the median over all
    integrations — per visit (a visit without baseline integrations takes the mean over
    all of them), since the reference spectrum of a per-visit normalization, or the
    star's colour, can differ between visits.  Give the baseline for a transit: where the channel is deeper than the
    white light, the in-transit ratios all lie on one side and pull the median off the
    out-of-transit level.  ``r₀``'s own error is neglected, as in
    :func:`~stamp_engine.steps.normalize.normalize`.  Works on raw-flux and on normalized
    channels (variability ``v`` is first turned into relative flux ``1 + v/100``); the
    two agree within the errors, not exactly, since the pixel weights 1/σ² differ.

    Raises
    ------
    ValueError
        A baseline window that is malformed or holds no integration.
    """
    flux, error = relative_flux(curves.flux, curves.error, curves.unit)
    white = curves.white_light()
    white_flux, white_error = relative_flux(white.value, white.error, curves.unit)
    fw, sw = white_flux[:, None], white_error[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = flux / fw
        ratio_error = np.sqrt(np.clip(ratio**2 * ((error / flux) ** 2 + (sw / fw) ** 2 - 2 * sw**2 / (flux * fw)), 0.0, None))
    labels, row_visit = np.unique(curves.visit, return_inverse=True)
    levels = np.full((labels.size, curves.n_channels), np.nan)
    if baseline is not None:
        rows, windows = window_rows(curves.hours, curves.visit, baseline, "baseline")
        pooled, _ = inverse_variance_mean(ratio[rows], ratio_error[rows], axis=0)
        for k in range(labels.size):  # a few visits
            own = rows[row_visit[rows] == k]
            levels[k] = inverse_variance_mean(ratio[own], ratio_error[own], axis=0)[0] if own.size else pooled
        level = f"its inverse-variance mean over the baseline {windows_text(windows)}"
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN channel stays NaN
            for k in range(labels.size):
                levels[k] = np.nanmedian(ratio[row_visit == k], axis=0)
        level = "its median over all integrations"
    if labels.size > 1:
        level += " of each visit (of all the baseline for a visit without one)" if baseline is not None else " of each visit"
    scale = levels[row_visit]
    with np.errstate(divide="ignore", invalid="ignore"):
        residual = 100.0 * (ratio / scale - 1.0)
        residual_error = 100.0 * ratio_error / np.abs(scale)
    step = (
        f"divided by the white light of the same channels (covariance propagated), then by {level}: "
        f"residual % = 100 (r/r0 − 1)"
    )
    return ChannelLightCurves(
        wavelength=curves.wavelength, edges=curves.edges, time=curves.time, hours=curves.hours,
        flux=residual, error=residual_error, unit=u.percent, visit=curves.visit, n_pixels=curves.n_pixels,
        time_label=curves.time_label, time_standard=curves.time_standard, t0_mjd=curves.t0_mjd,
        binning={**curves.binning, "divided_by_white": True},
        description=f"{curves.description}; {step}", history=(*curves.history, step), meta=curves.meta,
    )
