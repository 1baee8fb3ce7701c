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

from stamp_engine.recipe import FIELD_LABELS, NORMALIZATIONS, RECIPE_VERSION, ZAXES, DataLimits, ProcessOptions

__all__ = ["NORMALIZATIONS", "ZAXES", "ProcessOptions", "DisplayOptions", "DataLimits",
           "parse_process_options", "parse_display_options", "parse_element", "loaded_key", "processed_key"]


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


def _number(raw: Any, field: str, errors: OptionErrors, *, label: str) -> float | None:
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
    return value


def parse_process_options(raw: Mapping[str, Any], limits: DataLimits | None = None) -> tuple[ProcessOptions, OptionErrors]:
    """Validated :class:`ProcessOptions` from the controls' raw values.

    The controls' values are only turned into numbers here; the rules are
    :meth:`ProcessOptions.validate`'s, the same that ``stamp render`` applies.

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
    values: dict[str, Any] = {}
    for field in ("n_integrations", "gap_hours", "sigma_time", "sigma_wavelength", "bin_time", "bin_wavelength",
                  "clip_sigma"):
        value = _number(raw.get(field), field, errors, label=FIELD_LABELS[field])
        if value is not None:
            values[field] = int(value) if isinstance(getattr(defaults, field), int) and value == int(value) else value
    for field in ("zaxis", "normalization"):
        values[field] = raw.get(field) or getattr(defaults, field)
    for field in ("wavelength", "hours"):
        values[field] = _pair(raw.get(field), field, errors, FIELD_LABELS[field])
    if values["normalization"] == "baseline" and values["zaxis"] == "variability":
        lo, hi = _pair(raw.get("baseline"), "baseline", errors, FIELD_LABELS["baseline"])
        values["baseline"] = None if lo is None or hi is None else (lo, hi)
    values["interpolate_gaps"] = bool(raw.get("interpolate_gaps"))
    options = ProcessOptions(**{k: v for k, v in values.items() if k not in errors})
    errors.update((k, v) for k, v in options.validate(limits).items() if k not in errors)
    return options.with_defaults_for(errors), errors


def _pair(raw: Any, field: str, errors: OptionErrors, label: str) -> tuple[float | None, float | None]:
    """A range control's two ends as numbers (None where empty)."""
    raw = list(raw) if isinstance(raw, (list, tuple)) else [None, None]
    raw = (raw + [None, None])[:2]
    lo = _number(raw[0], field, errors, label=f"{label} start")
    hi = _number(raw[1], field, errors, label=f"{label} end")
    return (None, None) if field in errors else (lo, hi)


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
    lo, hi = _pair(zrange, "zrange", errors, "Colour range")
    if lo is not None and hi is not None and lo >= hi:
        errors["zrange"] = f"Colour range: start ({lo:g}) must be below end ({hi:g})"
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

    payload = {"content": content_key, "options": options.to_dict(), "engine": __version__, "pipeline": RECIPE_VERSION}
    return "processed-" + _digest(_with_element(payload, element))
