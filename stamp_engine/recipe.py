"""The processing recipe shared by the dashboard and ``stamp render``: options → steps, in one order.

Both front ends build a :class:`ProcessOptions` and call :func:`process`, so a plot
made in the browser and a package made from a script are the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Callable, Mapping

from .cube import Cube
from .progress import Progress, no_progress
from .vocabulary import NORMALIZATIONS, ZAXES

__all__ = ["FIELD_LABELS", "MAX_BIN", "MAX_SIGMA", "MIN_CLIP_SIGMA", "NORMALIZATIONS", "RECIPE_VERSION", "ZAXES", "DataLimits",
           "ProcessOptions", "process"]

#: Bumped whenever :func:`process` changes what it computes for the same options, so that
#: cubes cached (or packages recorded) by an older version are not taken for current ones.
RECIPE_VERSION = 1

#: Caps on smoothing and binning, so that a typo (1000 instead of 10) cannot start an hour-long job.
MAX_SIGMA = 100.0
MAX_BIN = 1000
#: Sigma clipping below this many σ would clip ordinary noise (a third of all values at 1 σ).
MIN_CLIP_SIGMA = 2.0

#: What each option is called in messages (the dashboard's control labels; the CLI names its flags).
FIELD_LABELS = {
    "n_integrations": "Integrations to plot",
    "interpolate_gaps": "Interpolate gaps",
    "gap_hours": "Gap threshold",
    "zaxis": "Z axis",
    "normalization": "Normalization",
    "baseline": "Baseline window",
    "wavelength": "Wavelength range",
    "hours": "Time range",
    "sigma_time": "Smoothing in time",
    "sigma_wavelength": "Smoothing in wavelength",
    "bin_time": "Time binning",
    "bin_wavelength": "Wavelength binning",
    "clip_sigma": "Sigma clipping",
}


@dataclass(frozen=True)
class DataLimits:
    """Extent of the loaded data, to check ranges against (the dashboard sends it to the browser)."""

    wavelength: tuple[float, float]
    hours: tuple[float, float]
    n_integrations: int

    @classmethod
    def of(cls, cube: Cube) -> "DataLimits":
        """The extent of ``cube``: its first and last wavelength (µm) and hour."""
        if cube.n_integrations == 0 or cube.n_wavelengths == 0:
            return cls((math.nan, math.nan), (math.nan, math.nan), cube.n_integrations)
        hours = cube.hours
        return cls((float(cube.wavelength[0]), float(cube.wavelength[-1])), (float(hours[0]), float(hours[-1])),
                   cube.n_integrations)

    def to_dict(self) -> dict[str, Any]:
        return {"wavelength": list(self.wavelength), "hours": list(self.hours), "n_integrations": self.n_integrations}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "DataLimits | None":
        if not data:
            return None
        try:
            return cls(tuple(map(float, data["wavelength"])), tuple(map(float, data["hours"])), int(data["n_integrations"]))
        except (KeyError, TypeError, ValueError):
            return None


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

    def validate(self, limits: DataLimits | None = None, labels: Mapping[str, str] | None = None) -> dict[str, str]:
        """What is wrong with these options: ``{field: message}``, empty when they can be processed.

        The one set of rules both front ends apply (the dashboard's controls, ``stamp render``'s
        flags); they turn widgets or argv into a :class:`ProcessOptions` and ask this.

        Parameters
        ----------
        limits : DataLimits, optional
            Extent of the loaded data; a range lying entirely outside it is an error.
        labels : mapping, optional
            What to call each field in the messages (default :data:`FIELD_LABELS`).
        """
        names = {**FIELD_LABELS, **(labels or {})}
        errors: dict[str, str] = {}

        def number(field: str, value: Any, *, whole: bool = False) -> bool:
            """Record a message unless ``value`` is a finite number (whole if asked); True when it is."""
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                errors[field] = f"{names[field]} must be a finite number"
                return False
            if whole and value != int(value):
                errors[field] = f"{names[field]} must be a whole number"
                return False
            return True

        if number("n_integrations", self.n_integrations, whole=True) and self.n_integrations < 0:
            errors["n_integrations"] = f"{names['n_integrations']} must be 0 (all) or more"
        if number("gap_hours", self.gap_hours) and self.gap_hours <= 0:
            errors["gap_hours"] = f"{names['gap_hours']} must be above 0 hours"
        if self.zaxis not in ZAXES:
            errors["zaxis"] = f"{names['zaxis']} must be one of {', '.join(ZAXES)}"
        if self.normalization not in NORMALIZATIONS:
            errors["normalization"] = f"{names['normalization']} must be one of {', '.join(NORMALIZATIONS)}"
        hours_extent = limits.hours if limits else None
        if self.normalization == "baseline" and self.zaxis == "variability":
            baseline = tuple(self.baseline) if self.baseline is not None else (None, None)
            if len(baseline) != 2 or None in baseline:
                errors["baseline"] = f"{names['baseline']} needs a start and an end (hours since the first integration)"
            else:
                self._check_range(errors, names, "baseline", baseline, "h", hours_extent)
        self._check_range(errors, names, "wavelength", self.wavelength, "µm", limits.wavelength if limits else None)
        self._check_range(errors, names, "hours", self.hours, "h", hours_extent)
        for field in ("sigma_time", "sigma_wavelength"):
            value = getattr(self, field)
            if number(field, value) and not 0 <= value <= MAX_SIGMA:
                errors[field] = f"{names[field]} must be between 0 and {MAX_SIGMA:g} pixels"
        for field in ("bin_time", "bin_wavelength"):
            value = getattr(self, field)
            if number(field, value, whole=True) and not 1 <= value <= MAX_BIN:
                errors[field] = f"{names[field]} must be between 1 and {MAX_BIN} pixels"
        if number("clip_sigma", self.clip_sigma) and self.clip_sigma != 0 and not MIN_CLIP_SIGMA <= self.clip_sigma <= MAX_SIGMA:
            errors["clip_sigma"] = f"{names['clip_sigma']} must be 0 (off) or between {MIN_CLIP_SIGMA:g} and {MAX_SIGMA:g} σ"
        return errors

    @staticmethod
    def _check_range(errors: dict[str, str], names: Mapping[str, str], field: str, bounds: Any, unit: str,
                     extent: tuple[float, float] | None) -> None:
        label = names[field]
        try:
            lo, hi = bounds
        except (TypeError, ValueError):
            errors[field] = f"{label} must be a pair (start, end) in {unit}"
            return
        for end in (lo, hi):
            if end is not None and (isinstance(end, bool) or not isinstance(end, (int, float)) or not math.isfinite(end)):
                errors[field] = f"{label}: start and end must be finite numbers ({unit})"
                return
        if lo is not None and hi is not None and lo >= hi:
            errors[field] = f"{label}: start ({lo:g} {unit}) must be below end ({hi:g} {unit})"
        elif extent is not None and all(math.isfinite(e) for e in extent):
            data_lo, data_hi = extent
            if (lo is not None and lo >= data_hi) or (hi is not None and hi <= data_lo):
                errors[field] = f"{label}: no data there; the data cover {data_lo:.4g}–{data_hi:.4g} {unit}"

    def with_defaults_for(self, names: Any) -> "ProcessOptions":
        """These options with the fields ``names`` (e.g. the keys of :meth:`validate`) set to their defaults."""
        defaults = ProcessOptions()
        return replace(self, **{f.name: getattr(defaults, f.name) for f in fields(self) if f.name in names})

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


def process(cube: Cube, options: ProcessOptions, progress: Progress = no_progress, *,
            in_place: bool = False) -> Cube:
    """The processing steps ``options`` ask for, in the order the original STAMP applies them.

    Visits are re-split with the gap threshold, outliers are sigma-clipped per visit
    (before normalizing, so no reference is pulled by them), then the cube is normalized over
    whole visits (so the baseline window and the reference are in the hours of the
    loaded data), then cut to the wavelength and time ranges, thinned to the
    integrations to plot, gap-filled, binned and smoothed.

    ``in_place=True`` lets normalizing overwrite ``cube``'s flux and error (see
    :func:`stamp_engine.steps.normalize`) for a caller that does not use ``cube`` again,
    such as ``stamp render``: the peak memory is one cube, not two.
    """
    steps: list[tuple[str, Callable[[Cube], Cube]]] = [
        ("Splitting visits", lambda c: c.split_visits(gap_hours=options.gap_hours)),
    ]
    if options.clip_sigma > 0:
        steps.append(("Clipping outliers", lambda c: c.clip(sigma=options.clip_sigma)))
    if options.zaxis == "variability":
        steps.append(("Normalizing", lambda c: c.normalize(method=options.normalization, baseline=options.baseline,
                                                          in_place=in_place)))
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
