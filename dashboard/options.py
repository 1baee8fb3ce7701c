"""The controls' values: validation with units, and the cache keys they lead to.

Pure functions the callbacks call, so they are tested without a browser.  Two kinds
of options:

* :class:`ProcessOptions` change the processed cube (normalization, ranges,
  binning, smoothing…); they are part of its cache key and need the Process button.
* :class:`DisplayOptions` only change how a cached cube is drawn (colour scale,
  colour range); figures re-render from the cache at once.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

from stamp_engine.recipe import NORMALIZATIONS, ZAXES, ProcessOptions

__all__ = ["NORMALIZATIONS", "ZAXES", "ProcessOptions", "DisplayOptions", "DataLimits",
           "parse_process_options", "parse_display_options", "parse_element", "loaded_key", "processed_key"]

#: Bumped whenever :func:`stamp_engine.recipe.process` changes what it computes, so
#: cubes cached by an older version are not reused.
PIPELINE_VERSION = 1

# Cap on smoothing and binning so a typo (1000 instead of 10) cannot start an hour-long job.
MAX_SIGMA = 100.0
MAX_BIN = 1000
#: Sigma clipping below this many σ would clip ordinary noise (a third of all values at 1 σ).
MIN_CLIP_SIGMA = 2.0


@dataclass(frozen=True)
class DataLimits:
    """Extent of the loaded data, to check ranges against (sent to the browser as metadata)."""

    wavelength: tuple[float, float]
    hours: tuple[float, float]
    n_integrations: int

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


#: Colour-scale choice meaning "the figures' default": diverging for variability, sequential for flux.
AUTO_COLORSCALE = "auto"


@dataclass(frozen=True)
class DisplayOptions:
    """Options that only change how a cube is drawn.

    ``colorscale`` None lets the figures choose (RdBu_r centred on 0 for variability,
    Viridis for flux).  ``stretch`` (:data:`stamp_engine.colour.STRETCHES`) applies to
    raw flux only; ``visits`` is the maps' visit layout
    (:data:`stamp_engine.timeaxis.VISIT_LAYOUTS`).
    """

    colorscale: str | None = None
    zrange: tuple[float, float] | None = None
    stretch: str = "linear"
    visits: str = "auto"


class OptionErrors(dict):
    """Field name → message, for fields whose value is unusable (empty when all are fine)."""


def _number(raw: Any, field: str, errors: OptionErrors, *, integer: bool = False, label: str) -> float | int | None:
    """``raw`` as a finite number, None when empty; records a message when it is not a number."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        errors[field] = f"{label} must be a number"
        return None
    if not math.isfinite(value):
        errors[field] = f"{label} must be a finite number"
        return None
    if integer:
        if value != int(value):
            errors[field] = f"{label} must be a whole number"
            return None
        return int(value)
    return value


def _range(
    raw: Any, field: str, errors: OptionErrors, *, label: str, unit: str, extent: tuple[float, float] | None
) -> tuple[float | None, float | None]:
    raw = list(raw) if isinstance(raw, (list, tuple)) else [None, None]
    raw = (raw + [None, None])[:2]
    lo = _number(raw[0], field, errors, label=f"{label} start")
    hi = _number(raw[1], field, errors, label=f"{label} end")
    if field in errors:
        return (None, None)
    if lo is not None and hi is not None and lo >= hi:
        errors[field] = f"{label}: start ({lo:g} {unit}) must be below end ({hi:g} {unit})"
    elif extent is not None:
        data_lo, data_hi = extent
        if (lo is not None and lo >= data_hi) or (hi is not None and hi <= data_lo):
            errors[field] = f"{label}: no data there; the data cover {data_lo:.4g}–{data_hi:.4g} {unit}"
    return (lo, hi)


def parse_process_options(raw: Mapping[str, Any], limits: DataLimits | None = None) -> tuple[ProcessOptions, OptionErrors]:
    """Validated :class:`ProcessOptions` from the controls' raw values.

    Parameters
    ----------
    raw : mapping
        Keys as the fields of :class:`ProcessOptions`; ranges as 2-item lists; values
        as the browser sends them (numbers, strings, None).
    limits : DataLimits, optional
        Extent of the loaded data; ranges entirely outside it are errors.

    Returns
    -------
    options, errors
        ``errors`` maps each unusable field to a message; ``options`` then holds the
        defaults for those fields.
    """
    errors = OptionErrors()
    defaults = ProcessOptions()
    n = _number(raw.get("n_integrations"), "n_integrations", errors, integer=True, label="Integrations to plot")
    if n is not None and n < 0:
        errors["n_integrations"] = "Integrations to plot must be 0 (all) or more"
    gap = _number(raw.get("gap_hours"), "gap_hours", errors, label="Gap threshold")
    if gap is not None and gap <= 0:
        errors["gap_hours"] = "Gap threshold must be above 0 hours"
    zaxis = raw.get("zaxis") or defaults.zaxis
    if zaxis not in ZAXES:
        errors["zaxis"] = f"Z axis must be one of {', '.join(ZAXES)}"
    normalization = raw.get("normalization") or defaults.normalization
    if normalization not in NORMALIZATIONS:
        errors["normalization"] = f"Normalization must be one of {', '.join(NORMALIZATIONS)}"
    hours_extent = limits.hours if limits else None
    baseline = None
    if normalization == "baseline" and zaxis == "variability":
        lo, hi = _range(raw.get("baseline"), "baseline", errors, label="Baseline window", unit="h", extent=hours_extent)
        if "baseline" not in errors:
            if lo is None or hi is None:
                errors["baseline"] = "Baseline window needs a start and an end (hours)"
            else:
                baseline = (lo, hi)
    wavelength = _range(
        raw.get("wavelength"), "wavelength", errors, label="Wavelength range", unit="µm",
        extent=limits.wavelength if limits else None,
    )
    hours = _range(raw.get("hours"), "hours", errors, label="Time range", unit="h", extent=hours_extent)
    sigmas = {}
    for field, label in (("sigma_time", "Smoothing in time"), ("sigma_wavelength", "Smoothing in wavelength")):
        value = _number(raw.get(field), field, errors, label=label)
        if value is not None and not 0 <= value <= MAX_SIGMA:
            errors[field] = f"{label} must be between 0 and {MAX_SIGMA:g} pixels"
        sigmas[field] = value
    clip_sigma = _number(raw.get("clip_sigma"), "clip_sigma", errors, label="Sigma clipping")
    if clip_sigma is not None and clip_sigma != 0 and not MIN_CLIP_SIGMA <= clip_sigma <= MAX_SIGMA:
        errors["clip_sigma"] = f"Sigma clipping must be 0 (off) or between {MIN_CLIP_SIGMA:g} and {MAX_SIGMA:g} σ"
    bins = {}
    for field, label in (("bin_time", "Time binning"), ("bin_wavelength", "Wavelength binning")):
        value = _number(raw.get(field), field, errors, integer=True, label=label)
        if value is not None and not 1 <= value <= MAX_BIN:
            errors[field] = f"{label} must be between 1 and {MAX_BIN} pixels"
        bins[field] = value

    def ok(field: str, value: Any, default: Any) -> Any:
        return default if field in errors or value is None else value

    options = ProcessOptions(
        n_integrations=ok("n_integrations", n, defaults.n_integrations),
        interpolate_gaps=bool(raw.get("interpolate_gaps")),
        gap_hours=ok("gap_hours", gap, defaults.gap_hours),
        zaxis=ok("zaxis", zaxis, defaults.zaxis),
        normalization=ok("normalization", normalization, defaults.normalization),
        baseline=ok("baseline", baseline, None),
        wavelength=ok("wavelength", wavelength, defaults.wavelength),
        hours=ok("hours", hours, defaults.hours),
        sigma_time=ok("sigma_time", sigmas["sigma_time"], defaults.sigma_time),
        sigma_wavelength=ok("sigma_wavelength", sigmas["sigma_wavelength"], defaults.sigma_wavelength),
        bin_time=ok("bin_time", bins["bin_time"], defaults.bin_time),
        bin_wavelength=ok("bin_wavelength", bins["bin_wavelength"], defaults.bin_wavelength),
        clip_sigma=ok("clip_sigma", clip_sigma, defaults.clip_sigma),
    )
    return options, errors


#: Longest spectral element name accepted from the browser or a link (real ones are "order 2", "NRS1").
MAX_ELEMENT_CHARS = 40


def parse_element(raw: Any) -> tuple[str | None, str | None]:
    """A spectral element name in the loader's spelling (:attr:`LoadOptions.element`), and a message if unusable.

    Case and spacing are forgiven: ``"Order2"`` → ``"order 2"``, ``"nrs1"`` → ``"NRS1"``.
    Empty, ``"all"`` or ``"both"`` mean the loader's default (None): the first order,
    or every detector joined in wavelength.  Whether the data hold the element is
    known only when they are read (the loader then names the ones available).
    """
    if raw is None:
        return None, None
    if not isinstance(raw, str) or len(raw) > MAX_ELEMENT_CHARS:
        return None, "Spectral element must be a short name such as 'order 2' or 'NRS1'"
    text = " ".join(raw.split())
    if text.lower() in ("", "all", "both", "default"):
        return None, None
    order = re.fullmatch(r"(?i)order\s*(\d{1,2})", text)
    if order:
        return f"order {int(order.group(1))}", None
    if re.fullmatch(r"[A-Za-z0-9_-]+", text):
        return text.upper(), None
    return None, f"Spectral element {raw!r} is not a name such as 'order 2' or 'NRS1'"


def parse_display_options(
    colorscale: Any, zrange: Any, colorscales: Mapping[str, Any] | tuple, stretch: Any = None, visits: Any = None
) -> tuple[DisplayOptions, OptionErrors]:
    """Validated :class:`DisplayOptions`; an unknown colour scale, stretch or visit layout falls back to the default."""
    from stamp_engine.colour import STRETCHES
    from stamp_engine.timeaxis import VISIT_LAYOUTS

    errors = OptionErrors()
    if stretch in (None, ""):
        stretch = "linear"
    elif stretch not in STRETCHES:
        errors["stretch"] = f"Unknown stretch {stretch!r}; linear is used"
        stretch = "linear"
    if visits in (None, ""):
        visits = "auto"
    elif visits not in VISIT_LAYOUTS:
        errors["visits"] = f"Unknown visit layout {visits!r}; automatic is used"
        visits = "auto"
    if colorscale in (None, "", AUTO_COLORSCALE):
        colorscale = None
    elif colorscale not in colorscales:
        errors["colorscale"] = f"Unknown colour scale {colorscale!r}"
        colorscale = None
    lo, hi = _range(zrange, "zrange", errors, label="Colour range", unit="", extent=None)
    if "zrange" not in errors and (lo is None) != (hi is None):
        errors["zrange"] = "Colour range needs both ends, or neither for automatic"
    z = (lo, hi) if "zrange" not in errors and lo is not None and hi is not None else None
    return DisplayOptions(colorscale=colorscale, zrange=z, stretch=stretch, visits=visits), errors


def _digest(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _with_element(payload: dict[str, Any], element: str | None) -> dict[str, Any]:
    # only named when chosen, so the keys of the loader's default stay what they were
    return {**payload, "element": element} if element else payload


def loaded_key(content_key: str, element: str | None = None) -> str:
    """Cache key of the cube as loaded from files of content ``content_key`` (spectral ``element``, None: the default)."""
    from stamp_engine import __version__

    return "loaded-" + _digest(_with_element({"content": content_key, "engine": __version__}, element))


def processed_key(content_key: str, options: ProcessOptions, element: str | None = None) -> str:
    """Cache key of the cube processed with ``options`` from files of content ``content_key`` (and ``element``)."""
    from stamp_engine import __version__

    payload = {"content": content_key, "options": options.to_dict(), "engine": __version__, "pipeline": PIPELINE_VERSION}
    return "processed-" + _digest(_with_element(payload, element))
