"""The science products of a download package: periodograms, amplitude and transmission spectra.

:func:`science_products` makes them from the processed cube with the engine's own
functions (:func:`stamp_engine.periodogram.periodogram`,
:func:`stamp_engine.spectra.amplitude_spectrum`, :func:`stamp_engine.spectra.transmission_spectrum`)
and the parameters of a :class:`SciencePlan`; ``recipe.py`` in the package makes the same
calls with the same parameters, written out.  A product the data cannot give (too few
integrations, no window, an amplitude spectrum at a white-light peak that is not a resolved,
significant period) is not made, and the reason is returned for the README.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Sequence

from ..windows import read_windows
from .tables import column_names

if TYPE_CHECKING:
    from ..cube import Cube
    from ..periodogram import Periodogram
    from ..steps import LightCurve
    from ..spectra import AmplitudeSpectrum, TransmissionSpectrum
    from ..windows import Window

#: Channels of the package's spectra when the plan does not say (equal-width, ``n=``).
DEFAULT_CHANNELS = 25


@dataclass(frozen=True)
class SciencePlan:
    """What the package's spectra are made with.

    Attributes
    ----------
    channels : int
        Equal-width wavelength channels of the spectra (``n=`` of
        :func:`~stamp_engine.channels.spectroscopic_light_curves`); at most one per sample.
    period_hours : float or None
        Period of the amplitude spectrum; None: the peak of the white light's periodogram.
    in_transit, baseline : tuple of (start, end) hours, or None
        Windows of the transmission/emission spectrum (hours since the first integration);
        without both, no transmission spectrum is made.
    kind : {"transit", "eclipse"}
        Transmission (transit depth) or emission (eclipse depth) spectrum.
    """

    channels: int = DEFAULT_CHANNELS
    period_hours: float | None = None
    in_transit: tuple["Window", ...] | None = None
    baseline: tuple["Window", ...] | None = None
    kind: str = "transit"

    @classmethod
    def from_windows(cls, windows: object, **settings) -> "SciencePlan":
        """The plan with the windows a page stores, ``{"in_transit": [h0, h1], "baseline": [h0, h1],
        "baseline2": [h0, h1]}`` (hours since the first integration; the second baseline optional).

        Windows are read by :func:`stamp_engine.windows.read_windows`: one that is not two
        finite, different numbers is left out (then no transit spectrum, and the README says
        why), never an exception.  ``settings``: the other fields (``channels``, ``kind`` …).
        """
        found = read_windows(windows)
        baseline = tuple(found[name] for name in ("baseline", "baseline2") if name in found) or None
        in_transit = (found["in_transit"],) if "in_transit" in found else None
        return cls(in_transit=in_transit, baseline=baseline, **settings)

    def channel_count(self, cube: "Cube") -> int:
        """Channels used on ``cube``: :attr:`channels`, at most one per wavelength sample."""
        return max(1, min(int(self.channels), cube.n_wavelengths))


@dataclass(frozen=True)
class ScienceProducts:
    """Products made for a package, and those not made (file stem → the reason)."""

    periodograms: dict[str, "Periodogram"]  # by light-curve column name
    amplitude: "AmplitudeSpectrum | None"
    transmission: "TransmissionSpectrum | None"
    period_hours: float | None
    not_made: dict[str, str]
    curve_index: dict[str, int]  # light-curve column name -> position among the package's curves

    def items(self) -> list[tuple[str, "Periodogram | AmplitudeSpectrum | TransmissionSpectrum"]]:
        """``(file stem, product)`` of every product made, periodograms first."""
        made: list = [(f"periodogram_{column}", p) for column, p in self.periodograms.items()]
        if self.amplitude is not None:
            made.append(("amplitude_spectrum", self.amplitude))
        if self.transmission is not None:
            made.append((f"{self.transmission.kind}_spectrum", self.transmission))
        return made


def science_products(cube: "Cube", curves: Sequence["LightCurve"], plan: SciencePlan) -> ScienceProducts:
    """Periodogram of each light curve, the amplitude spectrum and (with windows) the transmission spectrum.

    Parameters
    ----------
    cube : Cube
        The processed cube of the package.
    curves : sequence of LightCurve
        The package's light curves (white light first), as tabulated.
    plan : SciencePlan

    Returns
    -------
    ScienceProducts
        ``not_made`` gives the file stem of each product left out and why (the engine's message).
    """
    from ..periodogram import periodogram
    from ..spectra import amplitude_spectrum, transmission_spectrum

    not_made: dict[str, str] = {}
    periodograms: dict[str, Periodogram] = {}
    curve_index = {column: i for i, column in enumerate(column_names([c.name for c in curves]))}
    for column, curve in zip(curve_index, curves):
        try:
            periodograms[column] = periodogram(curve)
        except ValueError as exc:
            not_made[f"periodogram_{column}"] = str(exc)
    period = plan.period_hours
    white = periodograms.get("white_light")
    refusal = white.amplitude_refusal if white is not None and period is None else None
    if period is None and white is not None and refusal is None:
        period = float(white.peak_period.to_value("hour"))
    amplitude = None
    if refusal is not None:  # a sinusoid fitted there is degenerate: amplitudes of 10⁴ %, phases 0/±180°
        not_made["amplitude_spectrum"] = f"the white light's {refusal}; give a period to fit one anyway"
    elif period is None:
        not_made["amplitude_spectrum"] = "no period: the white light has no periodogram and none was given"
    else:
        try:
            amplitude = amplitude_spectrum(cube, period, n=plan.channel_count(cube))
        except ValueError as exc:
            not_made["amplitude_spectrum"] = str(exc)
        problem = white.period_problem(period) if white is not None and amplitude is not None else None
        if problem:
            amplitude = replace(amplitude, description=(
                f"{amplitude.description}. Warning: the period given is not resolved by the data ({problem})"))
    transmission = None
    if plan.in_transit and plan.baseline:
        try:
            transmission = transmission_spectrum(
                cube, plan.in_transit, plan.baseline, n=plan.channel_count(cube), kind=plan.kind)
        except ValueError as exc:
            not_made[f"{plan.kind}_spectrum"] = str(exc)
    else:
        not_made[f"{plan.kind}_spectrum"] = "no in-transit and baseline windows were chosen"
    return ScienceProducts(periodograms, amplitude, transmission, period, not_made, curve_index)
