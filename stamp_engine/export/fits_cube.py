"""The processed cube as FITS, and back.

Units (``BUNIT``), WCS axes (``-TAB`` lookup of wavelength and time, readable by
``astropy.wcs``), the time standard (``TIMESYS``/``MJDREF``/``TIMEUNIT``/``TREFPOS``) and
provenance (source files, options, processing history); :func:`read_cube_fits` reads it back.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.time import Time

from .. import __version__
from ..cube import Cube
from ..problems import Problem
from .serialize import dumps, parse_unit, unit_string

#: ``time_standard`` → (FITS TIMESYS, TREFPOS): where and in which scale times are measured.
_TIME_REFERENCE = {
    "BJD_TDB": ("TDB", "BARYCENTER"),
    "BJD_TDB (assumed)": ("TDB", "BARYCENTER"),
    "MJD_UTC": ("UTC", "TOPOCENTER"),
    "MJD_UTC (from EXPSTART + cadence)": ("UTC", "TOPOCENTER"),
    "HJD_UTC": ("UTC", "HELIOCENTER"),
}

#: Primary-header keyword for each ``Cube.meta`` key (≤ 8 characters, FITS/JWST names).
META_KEYWORDS = {
    "target": "TARGNAME", "instrument": "INSTRUME", "detector": "DETECTOR", "exp_type": "EXP_TYPE",
    "filter": "FILTER", "grating": "GRATING", "pupil": "PUPIL", "subarray": "SUBARRAY",
    "program": "PROGRAM", "observation": "OBSERVTN", "visit": "VISIT", "pipeline": "PIPELINE",
    "element_used": "ELEMENT",
}


def _header_value(value: Any) -> Any:
    text = str(value)
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)  # FITS headers are ASCII



def write_cube_fits(cube: Cube, path: str | Path, options: Mapping[str, Any] | None = None) -> Path:
    """Write ``cube`` as a FITS file that :func:`read_cube_fits` reads back unchanged.

    HDUs: ``PRIMARY`` (target, instrument set-up, time standard, provenance in
    ``HISTORY``), ``FLUX`` and ``ERROR`` (n_int × n_wave, float64, ``BUNIT``),
    ``WAVELENGTH`` (µm), ``TIME`` (binary table: ``TIME`` in days since ``MJDREF`` with
    ``TIMESYS``/``TIMEUNIT``/``TREFPOS``, plus ``HOURS``, ``INTEGRATION``, ``VISIT``,
    ``SOURCE``), ``WCS-TAB`` (the coordinate arrays the ``-TAB`` WCS axes of ``FLUX`` and
    ``ERROR`` point to: ``CTYPE1 = 'WAVE-TAB'`` in µm, ``CTYPE2 = 'TIME-TAB'`` in s since
    ``MJDREF``), ``REFERENCE`` (normalized cubes: each visit's reference spectrum),
    ``SOURCES`` (input files), ``PROBLEMS`` and ``PROVENANCE`` (metadata, options and
    history as JSON).
    """
    path = Path(path)
    timesys, trefpos = _TIME_REFERENCE.get(cube.time_standard, (cube.time.scale.upper(), "TOPOCENTER"))
    scale = cube.time.scale
    primary = fits.PrimaryHDU()
    header = primary.header
    header["ORIGIN"] = ("STAMP", "Spectral Time-series Analysis and Mapping")
    header["STAMPVER"] = (__version__, "STAMP version that wrote the file")
    header["DATE"] = (_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"), "file creation date (UTC)")
    for key, keyword in META_KEYWORDS.items():
        if cube.meta.get(key) not in (None, ""):
            header[keyword] = _header_value(cube.meta[key])
    header["OBJECT"] = _header_value(cube.target)
    header["TIMESTD"] = (_header_value(cube.time_standard), "time standard of TIME as read from the files")
    header["TIMESYS"] = (timesys, "time scale of TIME")
    header["NINTS"] = (cube.n_integrations, "integrations (rows of FLUX)")
    header["NWAVE"] = (cube.n_wavelengths, "wavelengths (columns of FLUX)")
    header["NVISITS"] = (cube.n_visits, "visits")
    header["NORMLZD"] = (cube.is_normalized, "FLUX is variability, % of a reference")
    for source in cube.sources:
        header.add_history(_header_value(f"source: {source}"))
    for step in cube.history:
        header.add_history(_header_value(f"step: {step}"))
    for key, value in (options or {}).items():
        header.add_history(_header_value(f"option {key} = {dumps(value)}"))

    def image(name: str, data: np.ndarray, unit: u.UnitBase | None, comment: str) -> fits.ImageHDU:
        hdu = fits.ImageHDU(np.ascontiguousarray(data, dtype=np.float64), name=name)
        hdu.header["BUNIT"] = (unit_string(unit), comment)
        return hdu

    mjdref = float(np.floor(cube.time[0].mjd)) if cube.n_integrations else 0.0
    ref_time = Time(mjdref, format="mjd", scale=scale)
    days = (cube.time - ref_time).to_value(u.day) if cube.n_integrations else np.zeros(0)

    value_comment = "variability, % of the reference" if cube.is_normalized else "flux"
    hdus: list[fits.hdu.base.ExtensionHDU] = [
        image("FLUX", cube.flux, cube.flux_unit, value_comment),
        image("ERROR", cube.error, cube.flux_unit, "1-sigma error of FLUX"),
    ]
    for hdu in hdus:
        _add_axis_wcs(hdu.header, timesys=timesys, trefpos=trefpos, mjdref=mjdref)
    wave = fits.ImageHDU(np.ascontiguousarray(cube.wavelength, dtype=np.float64), name="WAVELENGTH")
    wave.header["BUNIT"] = ("um", "wavelength, ascending")
    hdus.append(wave)
    hdus.append(_wcs_table(cube.wavelength, days))
    columns = [
        fits.Column("TIME", "D", unit="d", array=np.asarray(days, dtype=np.float64)),
        fits.Column("HOURS", "D", unit="h", array=np.asarray(cube.hours, dtype=np.float64)),
        fits.Column("INTEGRATION", "K", array=np.asarray(cube.integration, dtype=np.int64)),
        fits.Column("VISIT", "J", array=np.asarray(cube.visit, dtype=np.int32)),
        fits.Column("SOURCE", "J", array=np.asarray(cube.source_index, dtype=np.int32)),
    ]
    time_hdu = fits.BinTableHDU.from_columns(columns, name="TIME")
    th = time_hdu.header
    _add_time_reference(th, timesys=timesys, trefpos=trefpos, mjdref=mjdref, unit="d", times="TIME")
    th["TIMESTD"] = (_header_value(cube.time_standard), "time standard as read from the files")
    th["TSTART"] = (float(days[0]) if len(days) else 0.0, "first mid-integration TIME")
    th["TSTOP"] = (float(days[-1]) if len(days) else 0.0, "last mid-integration TIME")
    th["TUNIT1"] = "d"
    th.comments["TTYPE1"] = "mid-integration time since MJDREF"
    th.comments["TTYPE2"] = "hours since the first integration"
    hdus.append(time_hdu)

    if cube.reference is not None:
        hdus.append(image("REFERENCE", cube.reference, cube.reference_unit, "reference spectrum of each visit"))

    files = {str(f.get("source")): f for f in cube.meta.get("files", []) if isinstance(f, Mapping)}
    sources = list(cube.sources)
    hdus.append(
        fits.BinTableHDU.from_columns(
            [
                fits.Column("INDEX", "J", array=np.arange(len(sources), dtype=np.int32)),
                _string_column("SOURCE", sources),
                _string_column("FORMAT", [str(files.get(s, {}).get("format") or "") for s in sources]),
                _string_column("LAYOUT", [str(files.get(s, {}).get("layout") or "") for s in sources]),
            ],
            name="SOURCES",
        )
    )
    problems = list(cube.problems)
    hdus.append(
        fits.BinTableHDU.from_columns(
            [
                _string_column("SOURCE", [p.source for p in problems]),
                _string_column("MESSAGE", [p.message for p in problems]),
                _string_column("SEVERITY", [p.severity for p in problems]),
            ],
            name="PROBLEMS",
        )
    )
    provenance = {
        "meta": dumps(cube.meta),
        "options": dumps(options or {}),
        "history": dumps(list(cube.history)),
        "sources": dumps(sources),
        "flux_unit": cube.flux_unit.to_string(),
        "reference_unit": cube.reference_unit.to_string() if cube.reference_unit is not None else "",
        "time_scale": scale,
        "time_standard": cube.time_standard,
    }
    hdus.append(
        fits.BinTableHDU.from_columns(
            [_string_column("KEY", list(provenance)), _string_column("VALUE", list(provenance.values()))],
            name="PROVENANCE",
        )
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.HDUList([primary, *hdus]).writeto(path, overwrite=True)
    return path


#: EXTNAME of the lookup table the FLUX/ERROR axes point to (FITS WCS paper III, ``-TAB``).
WCS_TABLE = "WCS-TAB"


def _add_axis_wcs(header: fits.Header, *, timesys: str, trefpos: str, mjdref: float) -> None:
    """World coordinates of a FLUX-shaped image: axis 1 wavelength, axis 2 time.

    Neither grid need be uniform, so both axes use the ``-TAB`` algorithm: pixel ``p``
    (1-based) maps to row ``p`` of the ``WAVELENGTH`` / ``TIME`` coordinate arrays in
    the :data:`WCS_TABLE` extension; ``astropy.wcs.WCS(header, fobj=hdulist)`` reads it.
    Time is in seconds there (the ``TIME`` extension keeps days): astropy's high-level
    ``pixel_to_world`` reads a ``-TAB`` time axis in days as if it were seconds.
    """
    axes = (("WAVE-TAB", "um", "WAVELENGTH", "wavelength, vacuum (as read)"),
            ("TIME-TAB", "s", "TIME", f"mid-integration time since MJDREF, {timesys}"))
    for i, (ctype, cunit, column, name) in enumerate(axes, start=1):
        header[f"CTYPE{i}"] = (ctype, "coordinate from a lookup table")
        header[f"CUNIT{i}"] = (cunit, f"unit of axis {i}")
        header[f"CNAME{i}"] = name[:68]
        header[f"CRPIX{i}"] = 1.0
        header[f"CRVAL{i}"] = (1.0, "first row of the coordinate array")
        header[f"CDELT{i}"] = 1.0
        header[f"PS{i}_0"] = (WCS_TABLE, "EXTNAME of the coordinate table")
        header[f"PS{i}_1"] = (column, "column of the coordinate array")
    _add_time_reference(header, timesys=timesys, trefpos=trefpos, mjdref=mjdref, unit="s", times="axis 2")


def _add_time_reference(header: fits.Header, *, timesys: str, trefpos: str, mjdref: float, unit: str, times: str) -> None:
    """The FITS time reference (scale, MJDREF, unit, position) of the times in ``times``."""
    header["TIMESYS"] = (timesys, f"time scale of {times}")
    header["MJDREFI"] = (int(mjdref), "integer part of the reference MJD")
    header["MJDREFF"] = (0.0, "fractional part of the reference MJD")
    header["TIMEUNIT"] = (unit, f"unit of {times}")
    header["TREFPOS"] = (trefpos, "where the times are measured")


def _wcs_table(wavelength: np.ndarray, days: np.ndarray) -> fits.BinTableHDU:
    """One row holding the wavelength (µm) and time (s since MJDREF) coordinate arrays."""
    columns = []
    for name, values, unit in (("WAVELENGTH", wavelength, "um"), ("TIME", np.asarray(days) * 86400.0, "s")):
        values = np.asarray(values, dtype=np.float64).reshape(1, -1, 1)  # (row, K, M=1)
        columns.append(fits.Column(name, f"{max(values.shape[1], 1)}D", unit=unit, array=values,
                                   dim=f"(1,{values.shape[1]})"))
    return fits.BinTableHDU.from_columns(columns, name=WCS_TABLE)


def _string_column(name: str, values: Sequence[str]) -> fits.Column:
    encoded = [str(v).encode("utf-8") for v in values]
    width = max([len(v) for v in encoded] + [1])
    return fits.Column(name, f"{width}A", array=np.array(encoded, dtype=f"S{width}"))


def _strings(column: np.ndarray) -> list[str]:
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in column]


def read_cube_fits(path: str | Path) -> Cube:
    """Read a cube written by :func:`write_cube_fits`.

    Raises
    ------
    stamp_engine.problems.ReadError
        When the file is not a STAMP cube.
    """
    from ..problems import ReadError

    with fits.open(path, memmap=False) as hdul:
        names = {hdu.name for hdu in hdul}
        missing = {"FLUX", "ERROR", "WAVELENGTH", "TIME", "PROVENANCE"} - names
        if missing:
            raise ReadError(f"is not a STAMP cube (no {', '.join(sorted(missing))} extension)")
        prov = dict(zip(_strings(hdul["PROVENANCE"].data["KEY"]), _strings(hdul["PROVENANCE"].data["VALUE"])))
        table = hdul["TIME"].data
        th = hdul["TIME"].header
        scale = prov.get("time_scale") or th["TIMESYS"].lower()
        ref = Time(th["MJDREFI"], th.get("MJDREFF", 0.0), format="mjd", scale=scale)
        time = ref + np.asarray(table["TIME"], dtype=np.float64) * u.day
        time.format = "mjd"
        reference = None
        if "REFERENCE" in names:
            reference = np.asarray(hdul["REFERENCE"].data, dtype=np.float64)
        problems = tuple(
            Problem(s, m, v)
            for s, m, v in zip(
                _strings(hdul["PROBLEMS"].data["SOURCE"]) if "PROBLEMS" in names else [],
                _strings(hdul["PROBLEMS"].data["MESSAGE"]) if "PROBLEMS" in names else [],
                _strings(hdul["PROBLEMS"].data["SEVERITY"]) if "PROBLEMS" in names else [],
            )
        )
        reference_unit = prov.get("reference_unit") or None
        return Cube(
            wavelength=np.asarray(hdul["WAVELENGTH"].data, dtype=np.float64),
            time=time,
            flux=np.asarray(hdul["FLUX"].data, dtype=np.float64),
            error=np.asarray(hdul["ERROR"].data, dtype=np.float64),
            flux_unit=parse_unit(prov.get("flux_unit", "")) if prov.get("flux_unit") != "%" else u.percent,
            time_standard=prov.get("time_standard") or th.get("TIMESTD", "BJD_TDB"),
            visit=np.asarray(table["VISIT"], dtype=np.int32),
            integration=np.asarray(table["INTEGRATION"], dtype=np.int64),
            source_index=np.asarray(table["SOURCE"], dtype=np.int32),
            sources=tuple(json.loads(prov.get("sources", "[]"))),
            meta=json.loads(prov.get("meta", "{}")),
            problems=problems,
            reference=reference,
            reference_unit=parse_unit(reference_unit) if reference_unit else None,
            history=tuple(json.loads(prov.get("history", "[]"))),
        )

