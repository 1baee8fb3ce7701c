"""The band editor's rows: which are usable bands, and why the others are not."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from stamp_engine.bands import PRESETS, Band


def preset_rows(preset: str) -> list[dict[str, Any]]:
    """Editor rows of a preset in :data:`stamp_engine.bands.PRESETS` (empty for an unknown name)."""
    return [band.to_dict() for band in PRESETS.get(preset, ())]


def _as_float(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def check_band_rows(
    rows: Sequence[Mapping[str, Any]] | None, wavelength: tuple[float, float] | None = None
) -> tuple[list[Band], dict[int, str]]:
    """Usable bands from the editor rows, and a message for each row that is not.

    A row is flagged when its start or end is missing or not a number, start ≥ end,
    it lies entirely outside ``wavelength`` (µm, the data's extent), or its name
    repeats an earlier row's (band buttons are keyed by name).  Rows left entirely
    empty (just added) are skipped without a message.

    Returns
    -------
    bands : list of Band
        In row order.
    errors : dict
        Row index → message for each flagged row.
    """
    bands: list[Band] = []
    errors: dict[int, str] = {}
    seen: set[str] = set()
    for i, row in enumerate(rows or ()):
        name = str(row.get("name") or "").strip()
        raw_start, raw_end = row.get("start"), row.get("end")
        if not name and raw_start in (None, "") and raw_end in (None, ""):
            continue
        start, end = _as_float(raw_start), _as_float(raw_end)
        if not name:
            errors[i] = "Give the band a name"
        elif name in seen:
            errors[i] = f"Another band is already called {name!r}"
        elif start is None or end is None:
            errors[i] = "Start and end must be numbers (µm)"
        elif start >= end:
            errors[i] = f"Start ({start:g} µm) must be below end ({end:g} µm)"
        elif wavelength is not None and not (start < wavelength[1] and end > wavelength[0]):
            errors[i] = f"Outside the data ({wavelength[0]:.3g}–{wavelength[1]:.3g} µm)"
        else:
            bands.append(Band(name, start, end))
        seen.add(name)
    return bands, errors


def error_styles(errors: Mapping[int, str]) -> list[dict[str, Any]]:
    """DataTable ``style_data_conditional`` entries colouring the flagged rows."""
    return [
        {"if": {"row_index": i}, "backgroundColor": "#f8d7da", "color": "#842029"}
        for i in sorted(errors)
    ]


def error_tooltips(n_rows: int, errors: Mapping[int, str]) -> list[dict[str, Any]]:
    """DataTable ``tooltip_data``: each flagged row's message on all its cells."""
    return [
        {col: {"value": errors[i], "type": "text"} for col in ("name", "start", "end")} if i in errors else {}
        for i in range(n_rows)
    ]
