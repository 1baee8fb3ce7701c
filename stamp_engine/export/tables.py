"""Tables a user takes away: light curves (ECSV + CSV) and science products (ECSV).

Light curves carry units, the time scale and band ranges in the header (readable with
``astropy.table.QTable.read``), and the CSV a commented header; transmission/emission and
amplitude spectra and periodograms carry units and how they were made.
"""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import astropy.units as u
import numpy as np
from astropy.table import QTable, Table

from .. import __version__
from .fits_cube import META_KEYWORDS
from .serialize import jsonable, unit_string

if TYPE_CHECKING:
    from ..periodogram import Periodogram
    from ..steps import LightCurve
    from ..spectra import AmplitudeSpectrum, TransmissionSpectrum


def _add_columns(table: QTable, *columns: tuple[str, Any, str]) -> None:
    """Add each ``(name, values, description)`` to ``table``, in order: every column says what it holds."""
    for name, values, description in columns:
        table[name] = values
        table[name].info.description = description


# ----------------------------------------------------------------------------- light curves
def column_names(names: Sequence[str]) -> list[str]:
    """CSV-friendly column names (letters, digits, ``._-``) of curve ``names``, unique among themselves.

    "White light" is ``white_light``; the names never clash with ``time``, ``hours``,
    ``visit`` or another curve's ``<name>_err``.  The package names its per-curve files
    (periodograms) with the same names.
    """
    taken: set[str] = set()
    columns = []
    for name in names:
        base = re.sub(r"[^0-9A-Za-z._-]+", "_", name.strip()).strip("_") or "band"
        base = "white_light" if name == "White light" else base
        candidate, k = base, 2
        while candidate in taken or candidate in ("time", "hours", "visit") or candidate.endswith("_err") and candidate[:-4] in taken:
            candidate, k = f"{base}_{k}", k + 1
        taken.add(candidate)
        columns.append(candidate)
    return columns


def light_curve_table(curves: Sequence["LightCurve"], time_standard: str | None = None) -> QTable:
    """One table of light curves sharing a time axis (white light first, then bands).

    Columns: ``time`` (:class:`~astropy.time.Time`, the cube's scale, MJD format),
    ``hours`` (since the first integration), ``visit``, then for each curve its value
    and ``<name>_err`` (1σ) as quantities in the curve's unit.  Each value column's
    ``description`` names the band and its wavelength range; ``meta`` holds the bands,
    ``t0`` and the time standard.

    Raises
    ------
    ValueError
        When no curve is given or the curves have different times.
    """
    curves = list(curves)
    if not curves:
        raise ValueError("no light curves to tabulate")
    first = curves[0]
    for curve in curves[1:]:
        if len(curve.time) != len(first.time) or not np.array_equal(curve.time.mjd, first.time.mjd):
            raise ValueError(f"light curve {curve.name!r} has different times from {first.name!r}")
    standard = time_standard or first.time.scale.upper()
    table = QTable()
    _add_columns(
        table,
        ("time", first.time, f"Mid-integration time, {standard} (MJD-style number, days)"),
        ("hours", np.asarray(first.hours, dtype=np.float64) * u.hour, f"Time since t0 = first integration ({standard}), hours"),
        ("visit", np.asarray(first.visit, dtype=np.int32), "Visit index (0, 1, …), split on time gaps"),
    )
    table["time"].format = "mjd"
    bands_meta = []
    for name, curve in zip(column_names([c.name for c in curves]), curves):
        lo, hi = curve.band
        what = "Variability" if curve.unit == u.percent else "Flux"
        _add_columns(
            table,
            (name, np.asarray(curve.value, dtype=np.float64) * curve.unit,
             f"{what} of {curve.name} ({lo:.4f}–{hi:.4f} µm), error-weighted band mean"),
            (f"{name}_err", np.asarray(curve.error, dtype=np.float64) * curve.unit, f"1-sigma error of {name}"),
        )
        bands_meta.append({"column": name, "name": curve.name, "start_um": float(lo), "end_um": float(hi)})
    table.meta.update(
        {
            "time_standard": standard,
            "time_scale": first.time.scale,
            "t0_mjd": float(first.time[0].mjd) if len(first.time) else None,
            "t0_isot": first.time[0].isot if len(first.time) else None,
            "curves": bands_meta,
            "written_by": f"STAMP {__version__}",
        }
    )
    return table


def _csv_comment_lines(table: QTable, title: str) -> list[str]:
    lines = [title, f"Written by STAMP {__version__} on {_dt.datetime.now().isoformat(timespec='seconds')}"]
    for name in table.colnames:
        column = table[name]
        if name == "time":
            unit = f"days, {column.scale.upper()} scale, MJD format"
        else:
            unit = str(getattr(column, "unit", "") or "")
            unit = "%" if unit == "%" else unit
        description = column.info.description or ""
        lines.append(f"{name}: {description}{f' [{unit}]' if unit else ''}")
    return lines


def write_light_curves(table: QTable, ecsv_path: str | Path, csv_path: str | Path | None = None, title: str = "") -> None:
    """Write ``table`` (from :func:`light_curve_table`) as ECSV and, optionally, CSV.

    The CSV starts with ``#`` comment lines giving each column's meaning and unit;
    ``time`` there is the MJD-style number in the table's time scale.
    """
    table.write(ecsv_path, format="ascii.ecsv", overwrite=True)
    if csv_path is not None:
        plain = Table()
        for name in table.colnames:
            column = table[name]
            if name == "time":
                plain[name] = np.asarray(column.mjd, dtype=np.float64)
            else:
                plain[name] = np.asarray(getattr(column, "value", column))
        plain.meta["comments"] = _csv_comment_lines(table, title or "STAMP light curves")
        formats = {name: "%.12g" for name in plain.colnames if name not in ("time", "visit")}
        formats["time"] = "%.10f"
        plain.write(csv_path, format="ascii.csv", overwrite=True, comment="# ", formats=formats)

# ------------------------------------------------------------------------ science products
def science_table(product: "TransmissionSpectrum | AmplitudeSpectrum | Periodogram") -> QTable:
    """A transmission/emission spectrum, an amplitude spectrum or a periodogram as a table.

    Columns carry units (µm, ppm as the scaled unit ``1e-06``, %, rad, 1/h, h) and a
    description; ``meta`` says how the product was made (``product``, ``description``,
    the time windows, channel binning, period, false-alarm values, the observation,
    ``time_standard``, ``t0_mjd``, processing ``history``) so the file stands alone.

    Raises
    ------
    TypeError
        For anything else.
    """
    from ..periodogram import Periodogram
    from ..spectra import AmplitudeSpectrum, TransmissionSpectrum

    table = QTable()
    meta: dict[str, Any] = {"written_by": f"STAMP {__version__}"}
    if isinstance(product, Periodogram):
        _add_columns(
            table,
            ("frequency", product.frequency.to(1 / u.hour), "Frequency, cycles per hour"),
            ("period", product.period, "Period = 1/frequency, hours"),
            ("power", np.asarray(product.power, dtype=np.float64), "Lomb-Scargle power (standard normalization, 0-1)"),
        )
        meta.update(
            product="periodogram", light_curve=product.name, band_um=list(product.band),
            peak_period_hours=float(product.peak_period.to_value(u.hour)), peak_power=product.peak_power,
            false_alarm_probability=product.false_alarm_probability, false_alarm_level=product.false_alarm_level,
            false_alarm=product.false_alarm, n_points=product.n_points,
            period_range_hours=[float(product.minimum_period.to_value(u.hour)), float(product.maximum_period.to_value(u.hour))],
            description=product.description,
        )
        table.meta.update(jsonable(meta))
        return table
    if not isinstance(product, (TransmissionSpectrum, AmplitudeSpectrum)):
        raise TypeError(f"no table for a {type(product).__name__}; give a spectrum or a periodogram")
    _add_columns(
        table,
        ("wavelength", np.asarray(product.wavelength, dtype=np.float64) * u.um, "Channel centre, micron"),
        ("wavelength_low", np.asarray(product.edges[:, 0], dtype=np.float64) * u.um, "Channel lower edge, micron"),
        ("wavelength_high", np.asarray(product.edges[:, 1], dtype=np.float64) * u.um, "Channel upper edge, micron"),
    )
    if isinstance(product, TransmissionSpectrum):
        what = "Transit depth 1 - F_in/F_out" if product.kind == "transit" else "Eclipse depth F_out/F_in - 1"
        _add_columns(
            table,
            ("depth", product.depth, f"{what}, ppm"),
            ("depth_err", product.error, "1-sigma error of depth, ppm"),
            ("n_in", np.asarray(product.n_in_transit_used, dtype=np.int64),
             "Integrations with a usable value in the in-transit window(s)"),
            ("n_baseline", np.asarray(product.n_baseline_used, dtype=np.int64),
             "Integrations with a usable value in the baseline window(s)"),
            ("baseline_scatter", np.asarray(product.baseline_scatter, dtype=np.float64),
             "Baseline scatter in units of the per-integration errors (1 = as expected)"),
        )
        meta.update(
            product=f"{product.kind} spectrum", kind=product.kind,
            in_transit_hours=product.in_transit_hours, baseline_hours=product.baseline_hours,
            n_in_transit=product.n_in_transit, n_baseline=product.n_baseline, input_unit=product.input_unit,
            errors_scaled=product.errors_scaled,
        )
    else:
        unit_text = unit_string(product.amplitude.unit) or "input unit"
        _add_columns(
            table,
            ("amplitude", product.amplitude, f"Sinusoid semi-amplitude A [{unit_text}]"),
            ("amplitude_err", product.amplitude_error, "1-sigma error of amplitude"),
            ("relative_amplitude", product.relative_amplitude, "A / mean level of the channel, %"),
            ("relative_amplitude_err", product.relative_amplitude_error, "1-sigma error of relative_amplitude, %"),
            ("phase", product.phase, "Phase phi of A sin(2 pi t/P + phi), t = hours since t0, rad"),
            ("phase_err", product.phase_error, "1-sigma error of phase, rad"),
            ("chi2_reduced", np.asarray(product.chi2_reduced, dtype=np.float64), "Reduced chi-square of the sinusoid fit"),
            ("n_points", np.asarray(product.n_points, dtype=np.int64), "Integrations used in the fit"),
        )
        meta.update(
            product="amplitude spectrum", period_hours=float(product.period.to_value(u.hour)),
            per_visit_offset=product.per_visit_offset, input_unit=product.input_unit,
        )
    observation = {k: product.meta[k] for k in META_KEYWORDS if k in product.meta}
    meta.update(
        description=product.description, channels=product.binning, observation=observation,
        time_standard=product.meta.get("time_standard"), t0_mjd=product.meta.get("t0_mjd"),
        history=[str(step) for step in product.history],  # plain text: YAML cannot write HistoryStep
    )
    table.meta.update(jsonable(meta))
    return table


def write_science_product(product: "TransmissionSpectrum | AmplitudeSpectrum | Periodogram", path: str | Path) -> Path:
    """Write :func:`science_table` of ``product`` as ECSV (read back with ``QTable.read(path)``)."""
    path = Path(path)
    science_table(product).write(path, format="ascii.ecsv", overwrite=True)
    return path
