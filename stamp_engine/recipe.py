"""The processing recipe shared by the dashboard and ``stamp render``: options → steps, in one order.

Both front ends build a :class:`ProcessOptions` and call :func:`process`, so a plot
made in the browser and a package made from a script are the same numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

from .cube import Cube

Progress = Callable[[str, int, int], None]

#: Normalizations offered, with the words the dashboard shows.
NORMALIZATIONS = {
    "median": "All-median (one reference for the whole observation)",
    "visit": "Per visit (each visit's median)",
    "baseline": "Baseline window (median over a time range)",
}
#: What the z axis (colour) shows.
ZAXES = {"variability": "Variability (%)", "flux": "Raw flux (unit from the file)"}


@dataclass(frozen=True)
class ProcessOptions:
    """Options that change the processed cube.  Ranges are ``None`` for "all the data".

    Attributes
    ----------
    n_integrations : int
        Integrations to plot, evenly spaced; 0 = all.
    interpolate_gaps : bool
        Fill the gaps between visits (one surface instead of one per visit).
    gap_hours : float
        A time gap longer than this (hours) starts a new visit.
    zaxis : {"variability", "flux"}
    normalization : {"median", "visit", "baseline"}
        Reference for variability; ignored for raw flux.
    baseline : (float, float) or None
        Hours since the first integration, for ``normalization="baseline"``.
    wavelength : (float or None, float or None)
        µm.
    hours : (float or None, float or None)
        Hours since the first integration.
    sigma_time, sigma_wavelength : float
        Gaussian smoothing sigma in integrations / wavelength pixels; 0 = none.
    bin_time, bin_wavelength : int
        Integrations / wavelength pixels averaged together; 1 = none.
    clip_sigma : float
        Sigma-clip outliers along time (:meth:`Cube.clip`) beyond this many σ; 0 = none.
        Clipped values become NaN (the heatmap masks columns mostly NaN).
    """

    n_integrations: int = 0
    interpolate_gaps: bool = False
    gap_hours: float = 0.5
    zaxis: str = "variability"
    normalization: str = "median"
    baseline: tuple[float, float] | None = None
    wavelength: tuple[float | None, float | None] = (None, None)
    hours: tuple[float | None, float | None] = (None, None)
    sigma_time: float = 0.0
    sigma_wavelength: float = 0.0
    bin_time: int = 1
    bin_wavelength: int = 1
    clip_sigma: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> dict[str, Any]:
        """The options that differ from "do nothing", in words, for READMEs and FITS provenance."""
        described: dict[str, Any] = {"z": self.zaxis, "visit gap hours": self.gap_hours}
        if self.zaxis == "variability":
            described["normalize"] = self.normalization
            if self.normalization == "baseline" and self.baseline:
                described["baseline hours"] = tuple(self.baseline)
        for key, value in (
            ("wavelength µm", self.wavelength if self.wavelength != (None, None) else None),
            ("hours", self.hours if self.hours != (None, None) else None),
            ("limit integrations", self.n_integrations or None),
            ("interpolate gaps", self.interpolate_gaps or None),
            ("bin time", self.bin_time if self.bin_time > 1 else None),
            ("bin wavelength", self.bin_wavelength if self.bin_wavelength > 1 else None),
            ("smooth time σ", self.sigma_time or None),
            ("smooth wavelength σ", self.sigma_wavelength or None),
            ("clip σ", self.clip_sigma or None),
        ):
            if value is not None:
                described[key] = value
        return described


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


def process(cube: Cube, options: ProcessOptions, progress: Progress = _no_progress) -> Cube:
    """The processing steps ``options`` ask for, in the order the original STAMP applies them.

    Visits are re-split with the gap threshold, outliers are sigma-clipped per visit
    (before normalizing, so no reference is pulled by them), then the cube is normalized over
    whole visits (so the baseline window and the reference are in the hours of the
    loaded data), then cut to the wavelength and time ranges, thinned to the
    integrations to plot, gap-filled, binned and smoothed.
    """
    steps: list[tuple[str, Callable[[Cube], Cube]]] = [
        ("Splitting visits", lambda c: c.split_visits(gap_hours=options.gap_hours)),
    ]
    if options.clip_sigma > 0:
        steps.append(("Clipping outliers", lambda c: c.clip(sigma=options.clip_sigma)))
    if options.zaxis == "variability":
        steps.append(("Normalizing", lambda c: c.normalize(method=options.normalization, baseline=options.baseline)))
    wavelength = None if tuple(options.wavelength) == (None, None) else options.wavelength
    hours = None if tuple(options.hours) == (None, None) else options.hours
    if wavelength or hours:
        steps.append(("Selecting ranges", lambda c: c.select(
            wavelength=_fill_range(wavelength, c.wavelength[0], c.wavelength[-1]),
            hours=_fill_range(hours, c.hours[0], c.hours[-1]),
        )))
    if options.n_integrations:
        steps.append(("Choosing integrations", lambda c: c.limit(options.n_integrations)))
    if options.interpolate_gaps:
        steps.append(("Interpolating gaps", lambda c: c.interpolate_gaps()))
    if options.bin_time > 1 or options.bin_wavelength > 1:
        steps.append(("Binning", lambda c: c.bin(time=options.bin_time, wavelength=options.bin_wavelength)))
    if options.sigma_time > 0 or options.sigma_wavelength > 0:
        steps.append(("Smoothing", lambda c: c.smooth(sigma_time=options.sigma_time, sigma_wavelength=options.sigma_wavelength)))
    for done, (stage, step) in enumerate(steps):
        progress(f"{stage}: {cube.n_integrations} integrations", done, len(steps))
        cube = step(cube)
    progress("Processed", len(steps), len(steps))
    return cube


def _fill_range(bounds, lo: float, hi: float) -> tuple[float, float] | None:
    if bounds is None:
        return None
    start, end = bounds
    return (float(lo) if start is None else start, float(hi) if end is None else end)
