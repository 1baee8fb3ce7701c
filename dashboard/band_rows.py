"""The band editor's rows: which are usable bands, and why the others are not."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from stamp_engine.bands import PRESETS, Band, band_from_record, parse_band_end, preset_for


def preset_rows(preset: str) -> list[dict[str, Any]]:
    """Editor rows of a preset in :data:`stamp_engine.bands.PRESETS` (empty for an unknown name)."""
    return [band.to_dict() for band in PRESETS.get(preset, ())]


def fitted_rows(rows: Sequence[Mapping[str, Any]] | None, wavelength: np.ndarray) -> list[dict[str, Any]] | None:
    """The rows of the preset that fits ``wavelength`` (:func:`stamp_engine.bands.preset_for`),
    when ``rows`` are a preset as loaded (not edited) and another preset fits better; else None.
    """
    current = [{"name": r.get("name"), "start": parse_band_end(r.get("start")), "end": parse_band_end(r.get("end"))} for r in rows or ()]
    if not any(current == preset_rows(name) for name in PRESETS):
        return None  # the user's own bands are never replaced
    best = preset_rows(preset_for(wavelength))
    return best if best != current else None


def check_band_rows(
    rows: Sequence[Mapping[str, Any]] | None, wavelength: Sequence[float] | np.ndarray | None = None
) -> tuple[list[Band], dict[int, str]]:
    """Usable bands from the editor rows, and a message for each row that is not.

    A row is flagged when the engine's band parser
    (:func:`stamp_engine.bands.band_from_record`) refuses it (no name, start or end
    missing or not a number, start ≥ end), when its band holds no sample of ``wavelength`` (µm, the data's wavelength samples;
    the engine's rule :meth:`stamp_engine.bands.Band.unusable_reason`, which names the
    nearest samples), or its name repeats an earlier row's (band buttons are keyed by
    name).  Rows left entirely empty (just added) are skipped without a message.

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
        if not name and row.get("start") in (None, "") and row.get("end") in (None, ""):
            continue
        if name and name in seen:
            errors[i] = f"Another band is already called {name!r}"
        else:
            try:
                band = band_from_record(row)
            except ValueError as exc:
                errors[i] = str(exc)
            else:
                reason = band.unusable_reason(wavelength) if wavelength is not None else None
                if reason:
                    errors[i] = reason
                else:
                    bands.append(band)
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
