"""Text forms of values shared by every export: JSON for headers and pages, unit strings."""

from __future__ import annotations

import json
from typing import Any, Mapping

import astropy.units as u
import numpy as np
from astropy.time import Time

from ..bands import Band

# ---------------------------------------------------------------------------- JSON helpers
def jsonable(value: Any) -> Any:
    """``value`` with NumPy scalars/arrays, tuples, paths, units and times made JSON-friendly."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Band):
        return value.to_dict()
    if isinstance(value, Time):
        return value.isot
    return str(value)


def dumps(value: Any) -> str:
    return json.dumps(jsonable(value), ensure_ascii=False, sort_keys=True)


def script_json(value: Any) -> str:
    """JSON safe inside an HTML ``<script>`` element: ``</script>`` and ``<!--`` cannot occur."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return (
        text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    )


# ------------------------------------------------------------------------------------ units
def unit_string(unit: u.UnitBase | None) -> str:
    """``unit`` as FITS/ECSV header text (``%`` for percent, ``""`` for none)."""
    if unit is None:
        return ""
    if unit == u.percent:
        return "%"
    try:
        return unit.to_string("fits")
    except (ValueError, u.UnitsError):
        return unit.to_string()


def parse_unit(text: str) -> u.UnitBase:
    """The unit :func:`unit_string` wrote as ``text``."""
    if text in ("", None):
        return u.dimensionless_unscaled
    if text == "%":
        return u.percent
    try:
        return u.Unit(text, format="fits")
    except ValueError:
        return u.Unit(text, parse_strict="silent")
