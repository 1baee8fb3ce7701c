"""What a job tells the page about the data: the summary card's rows, the per-file problems, the data extent."""

from __future__ import annotations

from typing import Any

import numpy as np

from stamp_engine.cube import Cube
from stamp_engine.noisy_channels import noisy_channels
from stamp_engine.timeaxis import duration_text


def integrations_text(cube: Cube) -> str:
    """``"520 integrations"``, or ``"520 integrations (+179 interpolated for display)"`` when rows were
    made by ``interpolate_gaps``: interpolated rows are not integrations."""
    from stamp_engine.figures import interpolated_rows

    made = int(np.count_nonzero(interpolated_rows(cube)))
    text = f"{cube.n_integrations - made} integrations"
    return f"{text} (+{made} interpolated for display)" if made else text


def _fmt_range(lo: float, hi: float, unit: str, digits: int = 3) -> str:
    return f"{lo:.{digits}f}–{hi:.{digits}f} {unit}"


def summarize(loaded: Cube, shown: str = "") -> list[tuple[str, str]]:
    """(label, value) rows of the summary card, from the loaded cube (and a line on what is shown)."""
    meta = loaded.meta
    mode = " / ".join(str(meta[k]) for k in ("exp_type", "filter", "grating", "pupil") if meta.get(k))
    instrument = " ".join(str(v) for v in (meta.get("instrument"), meta.get("detector")) if v)
    files = meta.get("files") or [{"source": s, "used": True} for s in loaded.sources]
    used = sum(1 for f in files if f.get("used"))
    axis = loaded.time_axis()
    rows = [
        ("Target", loaded.target),
        ("Instrument", instrument or "unknown"),
        ("Mode", mode or "unknown"),
        ("Files", f"{used} used of {len(files)}"),
        ("Integrations", f"{loaded.n_integrations}"),
        ("Wavelengths", f"{loaded.n_wavelengths}, " + _fmt_range(float(loaded.wavelength[0]), float(loaded.wavelength[-1]), "µm")),
        ("Time span", f"{duration_text(loaded.hours[-1] - loaded.hours[0], 4)} from t0 = {axis.t0_text} "
                      f"({loaded.t0.iso[:19]} {loaded.time.scale.upper()})"),
        ("Cadence", f"{axis.text(axis.cadence_hours, max(axis.digits, 2))} (median step)"
                    if np.isfinite(axis.cadence_hours) else "one integration"),
        ("Time scale", loaded.time_standard + (f" ({meta['time_standard_note']})" if meta.get("time_standard_note") else "")),
        ("Visits", f"{loaded.n_visits}"),
        ("Flux unit", loaded.flux_unit.to_string() or "dimensionless"),
    ]
    if meta.get("pipeline"):
        rows.append(("Pipeline", str(meta["pipeline"])))
    if loaded.n_wavelengths > 1:
        noisy = noisy_channels(loaded.flux, loaded.is_normalized)
        rows.append(("Noisy channels", noisy.describe(loaded.wavelength)))
    available = meta.get("elements_available") or []
    if len(available) > 1:
        rows.append(("Spectral element", f"{meta.get('element_used') or 'default'} shown (of {', '.join(available)})"))
    if shown:
        rows.append(("Shown", shown))
    return rows


def problem_records(cube: Cube) -> list[dict[str, str]]:
    """The engine's per-file problems as small dicts for the browser."""
    return [{"source": p.source, "message": p.message, "severity": p.severity} for p in cube.problems]


def limits_of(cube: Cube) -> dict[str, Any]:
    """The data extent the controls are checked against."""
    from .options import DataLimits

    return DataLimits.of(cube).to_dict()
