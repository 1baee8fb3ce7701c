"""Lomb–Scargle periodograms of light curves (white light, a band or a channel).

``astropy.timeseries.LombScargle`` with the light curve's errors, on hours since ``t0``;
it handles uneven sampling, gaps and several visits.  The peak is refined on a fine
grid around the best grid frequency, and its false-alarm probability is astropy's
``"baluev"`` estimate (Baluev 2008, for the searched frequency range).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import astropy.units as u
import numpy as np

from .steps.light_curves import LightCurve
from .timeaxis import display_time_unit

if TYPE_CHECKING:
    from .bands import Band
    from .cube import Cube

__all__ = ["Periodogram", "cube_periodogram", "periodogram"]

#: Relative slack of the resolution rule: a peak refined onto the edge of the searched range is at it.
_EDGE_TOLERANCE = 1e-6


@dataclass(frozen=True, eq=False)
class Periodogram:
    """A Lomb–Scargle periodogram and its peak.

    Attributes
    ----------
    name : str
        The light curve's name ("White light", a band, a channel).
    band : (float, float)
        Its wavelength range, µm.
    frequency : astropy.units.Quantity, shape (n_freq,)
        Frequencies, 1/h, ascending: the search grid and the refined peak.
    power : ndarray, shape (n_freq,)
        Lomb–Scargle power, ``"standard"`` normalization (0 … 1).
    peak_period : astropy.units.Quantity
        Period of the highest peak, hours.
    peak_power : float
    false_alarm_probability : float
        Probability that noise alone gives a peak as high in the searched range.
    false_alarm_level : float
        The power that noise alone exceeds with probability ``false_alarm``.
    false_alarm : float
        The probability of ``false_alarm_level`` (e.g. 0.01).
    minimum_period, maximum_period : astropy.units.Quantity
        The searched range, hours.
    n_points : int
        Integrations used (finite value and error > 0).
    description : str
    span, cadence : astropy.units.Quantity
        Time covered by the usable points and their median spacing, hours.
    """

    name: str
    band: tuple[float, float]
    frequency: u.Quantity
    power: np.ndarray
    peak_period: u.Quantity
    peak_power: float
    false_alarm_probability: float
    false_alarm_level: float
    false_alarm: float
    minimum_period: u.Quantity
    maximum_period: u.Quantity
    n_points: int
    description: str = ""
    span: u.Quantity = np.nan * u.hour
    cadence: u.Quantity = np.nan * u.hour

    def period_problem(self, period_hours: float) -> str | None:
        """Why ``period_hours`` is not a period these data resolve, or None when it is.

        A period over half the span (fewer than two cycles covered: a trend, a transit or
        one slow swing peaks there) or within one frequency step of twice the median cadence
        (the Nyquist limit) is not resolved.  Periods are written in the unit the figures draw
        this span in (:func:`stamp_engine.timeaxis.display_time_unit`: minutes for a 2.4 min series).
        """
        peak = float(period_hours)
        span = float(self.span.to_value(u.hour))
        nyquist = 2.0 * float(self.cadence.to_value(u.hour))
        unit = display_time_unit(span)

        def text(hours: float) -> str:
            return f"{(hours * u.h).to_value(unit):.3g} {unit.to_string()}"

        if peak > 0.5 * span * (1 + _EDGE_TOLERANCE):
            near = " = the data span" if peak >= span * (1 - 0.05) else ""
            return (f"{text(peak)}{near}: fewer than two cycles in the {text(span)} of data, "
                    "not a resolved period")
        # within one grid step of the Nyquist frequency: the refined peak of a power rising to the edge
        step = float(np.median(np.diff(self.frequency.to_value(1 / u.hour)))) if self.frequency.size > 1 else 0.0
        if 1.0 / peak >= 1.0 / nyquist - step - _EDGE_TOLERANCE / nyquist:
            return f"{text(peak)} = twice the cadence (the Nyquist limit): not a resolved period"
        return None

    @property
    def unresolved_reason(self) -> str | None:
        """Why the peak is not a period the data resolve (:meth:`period_problem`), or None."""
        problem = self.period_problem(float(self.peak_period.to_value(u.hour)))
        return None if problem is None else f"peak at {problem}"

    @property
    def resolved(self) -> bool:
        """The peak's period is resolved by the data (see :attr:`unresolved_reason`)."""
        return self.unresolved_reason is None

    @property
    def significant(self) -> bool:
        """The peak is above the ``false_alarm`` level."""
        return bool(self.peak_power >= self.false_alarm_level)

    @property
    def amplitude_refusal(self) -> str | None:
        """Why a sinusoid fitted at this peak would mislead (unresolved or below the false-alarm
        level), or None when its amplitude spectrum is meaningful."""
        if not self.resolved:
            return self.unresolved_reason
        if not self.significant:
            unit = display_time_unit(float(self.span.to_value(u.hour)))
            return (f"peak at {self.peak_period.to_value(unit):.3g} {unit.to_string()} is below the {100 * self.false_alarm:g} % "
                    f"false-alarm level (power {self.peak_power:.3g} < {self.false_alarm_level:.3g}): "
                    "no period to fit")
        return None

    @property
    def period(self) -> u.Quantity:
        """Period of each frequency, hours (descending)."""
        return (1.0 / self.frequency).to(u.hour)


def periodogram(
    curve: LightCurve,
    *,
    minimum_period: float | None = None,
    maximum_period: float | None = None,
    samples_per_peak: int = 10,
    false_alarm: float = 0.01,
) -> Periodogram:
    """Lomb–Scargle periodogram of one light curve, with its peak and false-alarm level.

    Parameters
    ----------
    curve : LightCurve
        e.g. ``cube.white_light()``, ``cube.light_curve(band)``, ``channels.channel(i)``.
    minimum_period, maximum_period : float, optional
        Hours.  Default: twice the median cadence (the Nyquist limit) to the time
        spanned by the data (a longer period is not constrained).  Peaks over half the
        span or at the Nyquist limit are searched but flagged (:attr:`Periodogram.resolved`).
    samples_per_peak : int
        Grid density (frequency step = 1/(samples_per_peak × span)).
    false_alarm : float
        Probability at which ``false_alarm_level`` is given.

    Raises
    ------
    ValueError
        Fewer than 3 usable points, or an empty / inverted period range.
    """
    from astropy.timeseries import LombScargle

    hours = np.asarray(curve.hours, dtype=float)
    value = np.asarray(curve.value, dtype=float)
    error = np.asarray(curve.error, dtype=float)
    with np.errstate(invalid="ignore"):
        good = np.isfinite(hours) & np.isfinite(value) & np.isfinite(error) & (error > 0)
    if good.sum() < 3:
        raise ValueError(f"{curve.name}: {int(good.sum())} usable point(s); a periodogram needs at least 3")
    t, y, dy = hours[good], value[good], error[good]
    y, offsets_text = _without_visit_levels(y, dy, np.asarray(curve.visit)[good])
    span = float(t.max() - t.min())
    cadence = float(np.median(np.diff(t)))
    lo = 2.0 * cadence if minimum_period is None else float(minimum_period)
    hi = span if maximum_period is None else float(maximum_period)
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi):
        raise ValueError(
            f"{curve.name}: the period range {lo:g}–{hi:g} h is empty (the data span {span:.4g} h, cadence {cadence:.4g} h)"
        )
    model = LombScargle(t, y, dy)
    frequency, power = model.autopower(
        minimum_frequency=1.0 / hi, maximum_frequency=1.0 / lo, samples_per_peak=samples_per_peak
    )
    # astropy's grid can run a step past the maximum frequency: keep the searched range only, so the
    # refined peak (within the range) is never below a drawn grid value
    inside = (frequency >= 1.0 / hi * (1 - 1e-12)) & (frequency <= 1.0 / lo * (1 + 1e-12))
    frequency, power = frequency[inside], power[inside]
    best = int(np.nanargmax(power))
    step = frequency[1] - frequency[0] if frequency.size > 1 else 1.0 / (samples_per_peak * span)
    fine = np.linspace(max(frequency[best] - step, 1.0 / hi), min(frequency[best] + step, 1.0 / lo), 201)
    fine = np.append(fine, frequency[best])  # the refined peak is at least the grid's best
    fine_power = model.power(fine)
    peak_frequency = float(fine[np.argmax(fine_power)])
    peak_power = float(np.max(fine_power))
    # the refined peak joins the grid, so a drawn curve passes through its marker
    at = int(np.searchsorted(frequency, peak_frequency))
    if not (at < frequency.size and frequency[at] == peak_frequency):
        frequency, power = np.insert(frequency, at, peak_frequency), np.insert(power, at, peak_power)
    search = {"minimum_frequency": 1.0 / hi, "maximum_frequency": 1.0 / lo, "samples_per_peak": samples_per_peak}
    fap = float(model.false_alarm_probability(peak_power, method="baluev", **search))
    level = float(model.false_alarm_level(false_alarm, method="baluev", **search))
    description = (
        f"Lomb–Scargle (astropy, standard normalization, errors as weights) of {curve.name} over periods "
        f"{lo:.4g}–{hi:.4g} h{offsets_text}, {samples_per_peak} samples per peak; peak refined on a fine grid; "
        f"false-alarm probability by the Baluev (2008) method"
    )
    return Periodogram(
        name=curve.name, band=tuple(float(x) for x in curve.band), frequency=frequency / u.hour, power=power,
        peak_period=(1.0 / peak_frequency) * u.hour, peak_power=peak_power, false_alarm_probability=fap,
        false_alarm_level=level, false_alarm=float(false_alarm), minimum_period=lo * u.hour,
        maximum_period=hi * u.hour, n_points=int(good.sum()), description=description,
        span=span * u.hour, cadence=cadence * u.hour,
    )


def _without_visit_levels(value: np.ndarray, error: np.ndarray, visit: np.ndarray) -> tuple[np.ndarray, str]:
    """``value`` less its inverse-variance mean in each visit (for two visits or more), and a note.

    A level change between visits (raw flux, a visit normalized apart) is a step that
    Lomb–Scargle's single mean would read as power at periods of the visit spacing, above
    the variability's own peak (a 10 % step put the white light's peak at 35 h instead of
    2.4 h); the amplitude spectrum fits one offset per visit for the same reason.
    """
    labels, index = np.unique(visit, return_inverse=True)
    if labels.size < 2:
        return value, ""
    weight = 1.0 / error**2
    level = np.bincount(index, weight * value) / np.bincount(index, weight)
    return value - level[index], f" (each of the {labels.size} visits less its own inverse-variance mean)"


def cube_periodogram(cube: "Cube", band: "Band | None" = None, **options) -> Periodogram:
    """Periodogram of the cube's white light, or of ``band``'s light curve (options as :func:`periodogram`)."""
    curve = cube.white_light() if band is None else cube.light_curve(band)
    return periodogram(curve, **options)
