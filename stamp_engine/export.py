"""What a user takes away: standalone HTML plots, light-curve tables, the cube as FITS, a ZIP.

Everything here works offline and is self-describing:

* HTML pages embed plotly.js and the band-highlighting script, so they open with no
  network; every string that came from a file (target names…) is escaped;
* light curves are written as ECSV (units, time scale and band ranges in the header,
  readable with ``astropy.table.QTable.read``) and as CSV with a commented header;
* the processed cube is written as FITS with units (``BUNIT``), WCS axes (``-TAB``
  lookup of wavelength and time, readable by ``astropy.wcs``), the time standard
  (``TIMESYS``/``MJDREF``/``TIMEUNIT``/``TREFPOS``) and provenance (source files,
  options, processing history), and :func:`read_cube_fits` reads it back;
* science products (transmission/emission and amplitude spectra, periodograms) are
  written as ECSV by :func:`write_science_product`, with units and how they were made;
* :func:`build_package` puts all of it, the spectrum video and a README in one ZIP.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import re
import shutil
import tempfile
import textwrap
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import QTable, Table
from astropy.time import Time

from . import __version__
from .bands import Band, usable_bands
from .cube import Cube
from .problems import Problem
from .web import bands_script

if TYPE_CHECKING:

    from .periodogram import Periodogram
    from .processing import LightCurve
    from .spectra import AmplitudeSpectrum, TransmissionSpectrum
    from .video import VideoResult

Progress = Callable[[str, int, int], None]

#: Default upper limit on the frames of the package's video: a longer cube is binned in
#: time (see :func:`stamp_engine.video.frame_bin_size`), so a 10,000-integration
#: observation makes a 30 s clip at 20 fps, not an 8-minute one.
DEFAULT_MAX_VIDEO_FRAMES = 600

#: ``time_standard`` → (FITS TIMESYS, TREFPOS): where and in which scale times are measured.
_TIME_REFERENCE = {
    "BJD_TDB": ("TDB", "BARYCENTER"),
    "BJD_TDB (assumed)": ("TDB", "BARYCENTER"),
    "MJD_UTC": ("UTC", "TOPOCENTER"),
    "MJD_UTC (from EXPSTART + cadence)": ("UTC", "TOPOCENTER"),
    "HJD_UTC": ("UTC", "HELIOCENTER"),
}

#: Primary-header keyword for each ``Cube.meta`` key (≤ 8 characters, FITS/JWST names).
_META_KEYWORDS = {
    "target": "TARGNAME", "instrument": "INSTRUME", "detector": "DETECTOR", "exp_type": "EXP_TYPE",
    "filter": "FILTER", "grating": "GRATING", "pupil": "PUPIL", "subarray": "SUBARRAY",
    "program": "PROGRAM", "observation": "OBSERVTN", "visit": "VISIT", "pipeline": "PIPELINE",
    "element_used": "ELEMENT",
}


def package_stamp(when: _dt.datetime | None = None) -> str:
    """``YYYYMMDD_HHMMSS`` of ``when`` (default now, local time): the suffix of package file names."""
    return (when or _dt.datetime.now()).strftime("%Y%m%d_%H%M%S")


# ---------------------------------------------------------------------------- JSON helpers
def _jsonable(value: Any) -> Any:
    """``value`` with NumPy scalars/arrays, tuples, paths, units and times made JSON-friendly."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
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


def _dumps(value: Any) -> str:
    return json.dumps(_jsonable(value), ensure_ascii=False, sort_keys=True)


def _script_json(value: Any) -> str:
    """JSON safe inside an HTML ``<script>`` element: ``</script>`` and ``<!--`` cannot occur."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return (
        text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    )


# ----------------------------------------------------------------------------- light curves
def _column_name(name: str, taken: set[str]) -> str:
    """A CSV-friendly column name (letters, digits, ``._-``) unique among ``taken``."""
    base = re.sub(r"[^0-9A-Za-z._-]+", "_", name.strip()).strip("_") or "band"
    base = "white_light" if name == "White light" else base
    candidate, k = base, 2
    while candidate in taken or candidate in ("time", "hours", "visit") or candidate.endswith("_err") and candidate[:-4] in taken:
        candidate, k = f"{base}_{k}", k + 1
    taken.add(candidate)
    return candidate


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
    table["time"] = first.time
    table["time"].format = "mjd"
    table["time"].info.description = f"Mid-integration time, {standard} (MJD-style number, days)"
    table["hours"] = np.asarray(first.hours, dtype=np.float64) * u.hour
    table["hours"].info.description = f"Time since t0 = first integration ({standard}), hours"
    table["visit"] = np.asarray(first.visit, dtype=np.int32)
    table["visit"].info.description = "Visit index (0, 1, …), split on time gaps"
    taken: set[str] = set()
    bands_meta = []
    for curve in curves:
        name = _column_name(curve.name, taken)
        lo, hi = curve.band
        what = "Variability" if curve.unit == u.percent else "Flux"
        table[name] = np.asarray(curve.value, dtype=np.float64) * curve.unit
        table[name].info.description = f"{what} of {curve.name} ({lo:.4f}–{hi:.4f} µm), error-weighted band mean"
        table[f"{name}_err"] = np.asarray(curve.error, dtype=np.float64) * curve.unit
        table[f"{name}_err"].info.description = f"1-sigma error of {name}"
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


# ------------------------------------------------------------------------------------ FITS
def _unit_string(unit: u.UnitBase | None) -> str:
    if unit is None:
        return ""
    if unit == u.percent:
        return "%"
    try:
        return unit.to_string("fits")
    except (ValueError, u.UnitsError):
        return unit.to_string()


def _parse_unit(text: str) -> u.UnitBase:
    if text in ("", None):
        return u.dimensionless_unscaled
    if text == "%":
        return u.percent
    try:
        return u.Unit(text, format="fits")
    except ValueError:
        return u.Unit(text, parse_strict="silent")


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
    for key, keyword in _META_KEYWORDS.items():
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
        header.add_history(_header_value(f"option {key} = {_dumps(value)}"))

    def image(name: str, data: np.ndarray, unit: u.UnitBase | None, comment: str) -> fits.ImageHDU:
        hdu = fits.ImageHDU(np.ascontiguousarray(data, dtype=np.float64), name=name)
        hdu.header["BUNIT"] = (_unit_string(unit), comment)
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
    th["TIMESYS"] = (timesys, "time scale of TIME")
    th["MJDREFI"] = (int(mjdref), "integer part of the reference MJD")
    th["MJDREFF"] = (0.0, "fractional part of the reference MJD")
    th["TIMEUNIT"] = ("d", "unit of TIME")
    th["TREFPOS"] = (trefpos, "where the times are measured")
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
        "meta": _dumps(cube.meta),
        "options": _dumps(options or {}),
        "history": _dumps(list(cube.history)),
        "sources": _dumps(sources),
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
    header["TIMESYS"] = (timesys, "time scale of axis 2")
    header["MJDREFI"] = (int(mjdref), "integer part of the reference MJD")
    header["MJDREFF"] = (0.0, "fractional part of the reference MJD")
    header["TIMEUNIT"] = ("s", "unit of axis 2")
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
    from .problems import ReadError

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
            flux_unit=_parse_unit(prov.get("flux_unit", "")) if prov.get("flux_unit") != "%" else u.percent,
            time_standard=prov.get("time_standard") or th.get("TIMESTD", "BJD_TDB"),
            visit=np.asarray(table["VISIT"], dtype=np.int32),
            integration=np.asarray(table["INTEGRATION"], dtype=np.int64),
            source_index=np.asarray(table["SOURCE"], dtype=np.int32),
            sources=tuple(json.loads(prov.get("sources", "[]"))),
            meta=json.loads(prov.get("meta", "{}")),
            problems=problems,
            reference=reference,
            reference_unit=_parse_unit(reference_unit) if reference_unit else None,
            history=tuple(json.loads(prov.get("history", "[]"))),
        )


# ------------------------------------------------------------------------------------ HTML
def _inline_script(source: str) -> str:
    # a literal "</script" inside inlined JavaScript would end the element early
    return "<script>\n" + re.sub(r"</(script)", r"<\\/\1", source, flags=re.IGNORECASE) + "\n</script>"


_PAGE_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       margin: 0; padding: 1rem 1.5rem; color: #222; background: #fff; }
h1 { font-size: 1.35rem; margin: 0 0 .4rem 0; font-weight: 600; }
h2 { font-size: 1.1rem; margin: 1.2rem 0 .3rem 0; font-weight: 600; }
.stamp-bands { position: sticky; top: 0; z-index: 10; background: #fff; padding: .4rem 0;
               display: flex; flex-wrap: wrap; gap: .35rem; align-items: center; border-bottom: 1px solid #eee; }
.stamp-bands span { font-size: .9rem; color: #555; margin-right: .3rem; }
.stamp-band { font: inherit; font-size: .85rem; padding: .25rem .7rem; border: 1px solid #bbb;
              border-radius: 1rem; background: #f7f7f7; cursor: pointer; }
.stamp-band[aria-pressed="true"] { background: #1f77b4; border-color: #1f77b4; color: #fff; }
.stamp-plot { width: 100%; }
footer { margin-top: 1.5rem; font-size: .8rem; color: #777; }
"""

_PAGE_SCRIPT = """
(function () {
  "use strict";
  var figures = Array.prototype.slice.call(document.querySelectorAll("script[data-stamp-figure]"));
  var divs = [];
  var config = {responsive: true, displaylogo: false, modeBarButtonsToRemove: ["sendDataToCloud"],
                toImageButtonOptions: {format: "png", scale: 2}};
  figures.forEach(function (holder) {
    var fig = JSON.parse(holder.textContent);
    var div = document.getElementById(holder.getAttribute("data-stamp-figure"));
    var layout = fig.layout || {};
    Plotly.newPlot(div, fig.data || [], layout, config).then(function () {
      if (fig.frames && fig.frames.length) { Plotly.addFrames(div, fig.frames); }
    });
    divs.push(div);
  });
  // Band ranges (µm) for views that shade them (the spectrum); maps carry their own.
  var nav = document.querySelector(".stamp-bands");
  var bands = nav ? JSON.parse(nav.getAttribute("data-bands") || "[]") : [];
  var selected = "All";
  // A view off screen is not redrawn on a click (a 3D surface costs seconds in software
  // WebGL): it follows the selection when it scrolls into view.
  var visible = divs.map(function () { return typeof IntersectionObserver === "undefined"; });
  function follow(i) {
    if (visible[i] && typeof window.stampHighlightDiv === "function") {
      window.stampHighlightDiv(divs[i], selected, bands);
    }
  }
  if (typeof IntersectionObserver !== "undefined") {
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        var i = divs.indexOf(entry.target);
        visible[i] = entry.isIntersecting;
        follow(i);
      });
    });
    divs.forEach(function (div) { observer.observe(div); });
  }
  function highlight(name) {
    selected = name;
    divs.forEach(function (div, i) { follow(i); });
    Array.prototype.forEach.call(document.querySelectorAll(".stamp-band"), function (button) {
      button.setAttribute("aria-pressed", button.getAttribute("data-band") === name ? "true" : "false");
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll(".stamp-band"), function (button) {
    button.addEventListener("click", function () { highlight(button.getAttribute("data-band")); });
  });
  window.stampPage = {figures: divs, highlight: highlight};
})();
"""

#: Band name the "All" button sends: every view back as drawn.
ALL_BANDS = "All"


def _figure_json(fig: Any) -> str:
    if hasattr(fig, "to_json"):
        return fig.to_json()
    return json.dumps(fig)


def _page(sections: Sequence[tuple[str | None, Any, int]], bands: Sequence[Band], title: str) -> str:
    import plotly.offline

    escaped_title = html.escape(title, quote=True)
    band_buttons = ""
    if bands:
        buttons = [f'<button type="button" class="stamp-band" data-band="{ALL_BANDS}" aria-pressed="true">All</button>']
        for band in bands:
            label = f"{band.name} ({band.start:g}–{band.end:g} µm)"
            buttons.append(
                f'<button type="button" class="stamp-band" data-band="{html.escape(band.name, quote=True)}"'
                f' title="{html.escape(label, quote=True)}" aria-pressed="false">{html.escape(band.name)}</button>'
            )
        ranges = json.dumps([{"name": b.name, "start": b.start, "end": b.end} for b in bands])
        band_buttons = (
            f'<nav class="stamp-bands" aria-label="Highlight a band" data-bands="{html.escape(ranges, quote=True)}">'
            '<span>Highlight band:</span>' + "".join(buttons) + "</nav>"
        )
    body = []
    for i, (heading, fig, height) in enumerate(sections):
        if heading:
            body.append(f"<h2>{html.escape(heading)}</h2>")
        body.append(f'<div id="stamp-plot-{i}" class="stamp-plot" style="height:{int(height)}px"></div>')
        body.append(
            f'<script type="application/json" data-stamp-figure="stamp-plot-{i}">{_script_json(_figure_json(fig))}</script>'
        )
    made = f"Made with STAMP {html.escape(__version__)} on {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')}. Opens offline: plotly.js is included."
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escaped_title}</title>",
            f"<style>{_PAGE_STYLE}</style>",
            _inline_script(plotly.offline.get_plotlyjs()),
            _inline_script(bands_script()),
            "</head>",
            "<body>",
            f"<h1>{escaped_title}</h1>",
            band_buttons,
            *body,
            f"<footer>{made}</footer>",
            _inline_script(_PAGE_SCRIPT),
            "</body>",
            "</html>",
        ]
    )


def standalone_html(fig: Any, bands: Sequence[Band], title: str, *, height: int = 720) -> str:
    """A complete HTML page showing ``fig`` that works offline.

    plotly.js and the band-highlighting script are embedded; with ``bands``, a row of
    buttons ("All" and one per band) highlights a band in every band-split trace.
    ``title`` and band names are escaped, and the figure JSON cannot close its
    ``<script>`` element, so text from file headers is always shown as text.
    """
    return _page([(None, fig, height)], bands, title)


def combined_html(figures: Mapping[str, Any] | Sequence[Any], bands: Sequence[Band], title: str) -> str:
    """All views on one page, one set of band buttons driving all of them.

    ``figures``: ``{heading: figure}`` (in order) or a sequence of figures.  3D surfaces
    get a taller plot area.
    """
    items = list(figures.items()) if isinstance(figures, Mapping) else [(None, f) for f in figures]
    sections = []
    for heading, fig in items:
        data = getattr(fig, "data", None) or (fig.get("data", []) if isinstance(fig, Mapping) else [])
        is_3d = any(getattr(t, "type", None) == "surface" or (isinstance(t, Mapping) and t.get("type") == "surface") for t in data)
        sections.append((heading, fig, 720 if is_3d else 520))
    return _page(sections, bands, title)


# ---------------------------------------------------------------------------------- README
def _format_option(value: Any) -> str:
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Band) for v in value):
        return ", ".join(f"{b.name} {b.start:g}–{b.end:g} µm" for b in value)
    if isinstance(value, (list, tuple)):
        return "–".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return str(value)


_NORMALIZATION = {
    "median": "variability = (flux / reference − 1) × 100 %, reference = median spectrum over all integrations",
    "visit": "variability = (flux / reference − 1) × 100 %, reference = median spectrum of each visit",
    "baseline": "variability = (flux / reference − 1) × 100 %, reference = median spectrum over the baseline hours",
}


def readme_text(cube: Cube, options: Mapping[str, Any] | None, files: Mapping[str, str] | Sequence[str]) -> str:
    """The package's README.txt: what was read, what was done to it, and what each file is.

    Parameters
    ----------
    cube : Cube
        The processed cube that was exported.
    options : mapping
        Processing and view options as the user gave them (shown verbatim).
    files : mapping or sequence
        Package file names, with a description each when a mapping.
    """
    options = dict(options or {})
    meta = cube.meta
    lines = [
        "STAMP export package",
        "=" * 20,
        f"Written by STAMP {__version__} on {_dt.datetime.now().isoformat(timespec='seconds')}.",
        "",
        f"Target:      {cube.target}",
    ]
    setup = ", ".join(f"{k} {meta[k]}" for k in ("instrument", "detector", "exp_type", "filter", "grating", "pupil", "subarray") if meta.get(k))
    if setup:
        lines.append(f"Set-up:      {setup}")
    ids = ", ".join(f"{k} {meta[k]}" for k in ("program", "observation", "visit") if meta.get(k))
    if ids:
        lines.append(f"Observation: {ids}")
    if meta.get("pipeline"):
        lines.append(f"Pipeline:    {meta['pipeline']}")
    if cube.n_integrations:
        t0 = cube.t0
        lines += [
            "",
            "Data",
            "----",
            f"{cube.n_integrations} integrations × {cube.n_wavelengths} wavelengths, "
            f"{cube.wavelength[0]:.4f}–{cube.wavelength[-1]:.4f} µm, {cube.n_visits} visit(s).",
            f"Times are mid-integration {cube.time_standard} (astropy scale '{cube.time.scale}').",
            f"t0 (first integration) = {t0.mjd:.8f} (MJD-style) = {t0.isot} {cube.time.scale.upper()}; "
            f"the last is {cube.hours[-1]:.4f} h later.",
            f"Values: {cube.value_label}.",
        ]
        if meta.get("time_standard_note"):
            lines.append(f"Note on times: {meta['time_standard_note']}")
    lines += ["", "Files read", "----------"]
    infos = [f for f in meta.get("files", []) if isinstance(f, Mapping)]
    if infos:
        for info in infos:
            used = "used" if info.get("used", True) else "NOT used"
            detail = ", ".join(
                str(x) for x in (
                    info.get("format"), info.get("layout"),
                    f"{info['integrations']} integrations" if info.get("integrations") is not None else None,
                    f"stage {info['stage']}" if info.get("stage") else None,
                ) if x
            )
            lines.append(f"- {info.get('source')} ({detail}; {used})")
            for note in info.get("notes", []) or []:
                lines.append(f"    note: {note}")
    else:
        lines += [f"- {s}" for s in cube.sources] or ["- (not recorded)"]
    if cube.problems:
        lines += ["", "Problems while loading", "----------------------"]
        lines += [f"- [{p.severity}] {p.source}: {p.message}" for p in cube.problems]
    lines += ["", "What was done", "-------------"]
    if cube.history:
        lines += [f"{i}. {step}" for i, step in enumerate(cube.history, start=1)]
    else:
        lines.append("Nothing: the cube is as loaded.")
    normalization = options.get("normalize") or ("median" if cube.is_normalized else None)
    if cube.is_normalized and normalization in _NORMALIZATION:
        lines.append(f"Normalization ({normalization}): {_NORMALIZATION[normalization]}.")
    if options:
        lines += ["", "Options", "-------"]
        lines += [f"{key}: {_format_option(value)}" for key, value in options.items()]
    lines += ["", "Files in this package", "---------------------"]
    entries = files.items() if isinstance(files, Mapping) else ((f, "") for f in files)
    for name, description in entries:
        lines.append(f"- {name}" + (f": {description}" if description else ""))
    lines += [
        "",
        "Reading the data",
        "----------------",
        "Light curves (Python):  from astropy.table import QTable; t = QTable.read('lightcurves_….ecsv')",
        "  (the time column is an astropy Time in the scale above; units are in the header).",
        "Cube (Python):          from stamp_engine.export import read_cube_fits; cube = read_cube_fits('stamp_cube_….fits')",
        "  or with astropy.io.fits: extensions FLUX, ERROR (BUNIT), WAVELENGTH (µm), TIME (days since MJDREF, TIMESYS);",
        "  FLUX/ERROR carry WCS axes (WAVE-TAB, TIME-TAB): astropy.wcs.WCS(hdul['FLUX'].header, fobj=hdul).",
        "HTML plots open in any web browser without a network connection.",
    ]
    code_lines = ("Light curves (Python)", "Cube (Python)")
    return "\n".join(
        line if len(line) <= 100 or line.startswith(code_lines)
        else textwrap.fill(line, 100, subsequent_indent="    ", break_long_words=False, break_on_hyphens=False)
        for line in lines
    ) + "\n"


# --------------------------------------------------------------------------------- package
def _static_figures(cube: Cube, curves: Sequence["LightCurve"], folder: Path, stamp: str) -> dict[str, str]:
    """PNG and PDF of the heatmap and light curves, when matplotlib is installed (optional)."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except Exception:  # matplotlib is optional: no static figures without it
        return {}
    written: dict[str, str] = {}
    hours = cube.hours
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    from .colour import robust_colour_limits

    lo, hi = robust_colour_limits(cube.flux, cube.is_normalized) or (0.0, 1.0)  # the same limits as the HTML maps
    cmap = "RdBu_r" if cube.is_normalized else "viridis"
    mesh = ax.pcolormesh(cube.wavelength, hours, cube.flux, shading="nearest", cmap=cmap, vmin=lo, vmax=hi, rasterized=True)
    fig.colorbar(mesh, ax=ax, label=cube.value_label)
    ax.set_xlabel("Wavelength (µm)")
    ax.set_ylabel(cube.time_label)
    ax.set_title(cube.target)
    for ext in ("png", "pdf"):
        name = f"heatmap_{stamp}.{ext}"
        fig.savefig(folder / name, dpi=200)
        written[name] = f"Heatmap of {cube.value_label} (static figure, {ext.upper()})."
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    for curve in curves:
        ax.errorbar(curve.hours, curve.value, yerr=curve.error, fmt=".", ms=2, elinewidth=0.5, label=curve.name)
    ax.set_xlabel(cube.time_label)
    ax.set_ylabel(cube.value_label)
    ax.set_title(cube.target)
    ax.legend(fontsize="small")
    for ext in ("png", "pdf"):
        name = f"lightcurves_{stamp}.{ext}"
        fig.savefig(folder / name, dpi=200)
        written[name] = f"Light curves (static figure, {ext.upper()})."
    plt.close(fig)
    return written


def package_files(stamp: str, *, video: bool = True) -> dict[str, str]:
    """Names of the files of a package made at ``stamp``, with what each holds."""
    files = {
        f"surface_plot_{stamp}.html": "3D surface (wavelength × time × value), interactive; band buttons highlight a band.",
        f"heatmap_plot_{stamp}.html": "Heatmap (wavelength × time), interactive; band buttons highlight a band.",
        f"combined_plots_{stamp}.html": "All views on one page; one row of band buttons drives all of them.",
    }
    if video:
        files[f"spectrum_{stamp}.mp4"] = "Video of the spectrum over time, one frame per (binned) integration (H.264)."
    files.update(
        {
            f"lightcurves_{stamp}.ecsv": "Light curves (white light and each band) with errors; units and time scale in the header.",
            f"lightcurves_{stamp}.csv": "The same light curves as CSV, with a commented header giving units.",
            f"stamp_cube_{stamp}.fits": "The processed cube: FLUX, ERROR, WAVELENGTH, TIME with units, time system and provenance.",
            "README.txt": "This file.",
        }
    )
    return files


def video_description(video: "VideoResult", n_integrations: int) -> str:
    """What the package's MP4 shows, for the README: frames, time binning, size and rate."""
    form = f"{video.width}×{video.height}, {video.fps:g} fps, H.264"
    k = video.integrations_per_frame
    if k == 1:
        return f"Video of the spectrum over time, one frame per integration ({video.frames} frames; {form})."
    return (
        f"Video of the spectrum over time, binned in time: the {n_integrations} integrations are averaged "
        f"into {video.frames} frames of {k} consecutive integrations each (mean; bins restart at each visit, "
        f"whose last bin may hold fewer; no integration is left out). Each frame is stamped with its bin "
        f"centre time and the integrations it averages ({form})."
    )


def build_package(
    cube: Cube,
    destination: str | Path,
    *,
    bands: Sequence[Band] = (),
    options: Mapping[str, Any] | None = None,
    video: bool = True,
    fps: float = 20,
    size: tuple[int, int] = (1280, 720),
    max_video_frames: int | None = DEFAULT_MAX_VIDEO_FRAMES,
    colorscale: str | None = None,
    zrange: tuple[float, float] | None = None,
    progress: Progress | None = None,
    unpacked: bool = False,
    when: _dt.datetime | None = None,
) -> Path:
    """Write the export package of ``cube`` as a ZIP.

    Contents (``<stamp>`` = ``YYYYMMDD_HHMMSS``): ``surface_plot_<stamp>.html``,
    ``heatmap_plot_<stamp>.html``, ``combined_plots_<stamp>.html``,
    ``spectrum_<stamp>.mp4`` (with ``video``), ``lightcurves_<stamp>.ecsv`` and ``.csv``,
    ``stamp_cube_<stamp>.fits``, ``README.txt``; plus PNG/PDF of the heatmap and light
    curves when matplotlib is installed.

    Parameters
    ----------
    cube : Cube
        The processed cube (normalized, binned… as the user chose).
    destination : path
        A ``.zip`` path, or a folder in which ``stamp_package_<stamp>.zip`` is written.
    bands : sequence of Band
        Bands highlighted in the plots and tabulated as light curves (those outside the
        data are left out and listed in the README).
    options : mapping
        What the user chose (recorded in the README and the FITS provenance).
    video, fps, size, max_video_frames
        Whether to make the MP4, its frame rate, pixel size and the most frames it may
        have (default :data:`DEFAULT_MAX_VIDEO_FRAMES`; None or 0: one frame per
        integration).  A cube with more integrations is binned in time for the video
        only — consecutive integrations averaged within each visit, none left out — and
        the README and each frame's time stamp (the bin centre) say so.
    colorscale, zrange
        Colour scale name and fixed colour range of the surface and heatmap.
    progress : callable
        ``progress(stage, done, total)``.
    unpacked : bool
        With a folder destination, also leave the files unpacked in
        ``<folder>/stamp_package_<stamp>/``.

    Returns
    -------
    Path
        The ZIP written.
    """
    from . import figures
    from .video import write_spectrum_video

    stamp = package_stamp(when)
    destination = Path(destination)
    if destination.suffix.lower() == ".zip":
        zip_path = destination
        zip_path.parent.mkdir(parents=True, exist_ok=True)
    else:
        destination.mkdir(parents=True, exist_ok=True)
        zip_path = destination / f"stamp_package_{stamp}.zip"
    options = dict(options or {})
    usable = usable_bands(cube, bands)
    skipped = [band for band in bands if band not in usable]
    if skipped:
        options["bands not in the data"] = skipped
    files = package_files(stamp, video=video)
    steps = ["light curves", "tables", "figures", "html", *(["video"] if video else []), "fits", "readme", "zip"]
    total = len(steps)

    def step(name: str) -> None:
        if progress:
            progress(name, steps.index(name), total)

    with tempfile.TemporaryDirectory(prefix="stamp-package-", dir=zip_path.parent) as tmp:
        folder = Path(tmp)
        step("light curves")
        curves = cube.light_curves(usable)
        step("tables")
        table = light_curve_table(curves, cube.time_standard)
        write_light_curves(
            table, folder / f"lightcurves_{stamp}.ecsv", folder / f"lightcurves_{stamp}.csv",
            title=f"STAMP light curves of {cube.target}",
        )
        step("figures")
        shown = figures.display_cube(cube)
        surface = figures.surface_figure(shown, usable, colorscale=colorscale, zrange=zrange)
        heatmap = figures.heatmap_figure(shown, usable, colorscale=colorscale, zrange=zrange)
        light = figures.light_curve_figure(curves)
        player = figures.spectrum_player_figure(cube)
        step("html")
        title = f"{cube.target} — STAMP"
        (folder / f"surface_plot_{stamp}.html").write_text(
            standalone_html(surface, usable, f"{title}: 3D surface"), encoding="utf-8")
        (folder / f"heatmap_plot_{stamp}.html").write_text(
            standalone_html(heatmap, usable, f"{title}: heatmap"), encoding="utf-8")
        combined = {"3D surface": surface, "Heatmap": heatmap, "Light curves": light, "Spectrum over time": player}
        (folder / f"combined_plots_{stamp}.html").write_text(combined_html(combined, usable, title), encoding="utf-8")
        if video:
            step("video")

            def video_progress(stage: str, done: int, frames: int) -> None:
                if progress:
                    progress("video", steps.index("video") * frames + done, total * frames)

            made = write_spectrum_video(
                cube, folder / f"spectrum_{stamp}.mp4", fps=fps, size=size, max_frames=max_video_frames,
                bands=usable, progress=video_progress,
            )
            files[f"spectrum_{stamp}.mp4"] = video_description(made, cube.n_integrations)
        step("fits")
        write_cube_fits(cube, folder / f"stamp_cube_{stamp}.fits", options=options)
        files.update(_static_figures(cube, curves, folder, stamp))
        step("readme")
        (folder / "README.txt").write_text(readme_text(cube, options, files), encoding="utf-8")
        step("zip")
        partial = zip_path.with_name(zip_path.name + ".part")
        with zipfile.ZipFile(partial, "w") as archive:
            for name in files:
                # MP4/PNG/PDF are compressed already; FITS floats barely compress: store them fast
                stored = name.endswith((".mp4", ".png", ".pdf"))
                level = 1 if name.endswith(".fits") else 6
                archive.write(folder / name, name, compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED,
                              compresslevel=None if stored else level)
        partial.replace(zip_path)
        if unpacked and destination.suffix.lower() != ".zip":
            target = destination / f"stamp_package_{stamp}"
            target.mkdir(exist_ok=True)
            for name in files:
                shutil.move(str(folder / name), target / name)
    if progress:
        progress("done", total, total)
    return zip_path


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
    from .periodogram import Periodogram
    from .spectra import AmplitudeSpectrum, TransmissionSpectrum

    table = QTable()
    meta: dict[str, Any] = {"written_by": f"STAMP {__version__}"}
    if isinstance(product, Periodogram):
        table["frequency"] = product.frequency.to(1 / u.hour)
        table["frequency"].info.description = "Frequency, cycles per hour"
        table["period"] = product.period
        table["period"].info.description = "Period = 1/frequency, hours"
        table["power"] = np.asarray(product.power, dtype=np.float64)
        table["power"].info.description = "Lomb-Scargle power (standard normalization, 0-1)"
        meta.update(
            product="periodogram", light_curve=product.name, band_um=list(product.band),
            peak_period_hours=float(product.peak_period.to_value(u.hour)), peak_power=product.peak_power,
            false_alarm_probability=product.false_alarm_probability, false_alarm_level=product.false_alarm_level,
            false_alarm=product.false_alarm, n_points=product.n_points,
            period_range_hours=[float(product.minimum_period.to_value(u.hour)), float(product.maximum_period.to_value(u.hour))],
            description=product.description,
        )
        table.meta.update(_jsonable(meta))
        return table
    if not isinstance(product, (TransmissionSpectrum, AmplitudeSpectrum)):
        raise TypeError(f"no table for a {type(product).__name__}; give a spectrum or a periodogram")
    table["wavelength"] = np.asarray(product.wavelength, dtype=np.float64) * u.um
    table["wavelength"].info.description = "Channel centre, micron"
    table["wavelength_low"] = np.asarray(product.edges[:, 0], dtype=np.float64) * u.um
    table["wavelength_low"].info.description = "Channel lower edge, micron"
    table["wavelength_high"] = np.asarray(product.edges[:, 1], dtype=np.float64) * u.um
    table["wavelength_high"].info.description = "Channel upper edge, micron"
    if isinstance(product, TransmissionSpectrum):
        what = "Transit depth 1 - F_in/F_out" if product.kind == "transit" else "Eclipse depth F_out/F_in - 1"
        table["depth"] = product.depth
        table["depth"].info.description = f"{what}, ppm"
        table["depth_err"] = product.error
        table["depth_err"].info.description = "1-sigma error of depth, ppm"
        table["n_in"] = np.asarray(product.n_in_transit_used, dtype=np.int64)
        table["n_in"].info.description = "Integrations with a usable value in the in-transit window(s)"
        table["n_baseline"] = np.asarray(product.n_baseline_used, dtype=np.int64)
        table["n_baseline"].info.description = "Integrations with a usable value in the baseline window(s)"
        table["baseline_scatter"] = np.asarray(product.baseline_scatter, dtype=np.float64)
        table["baseline_scatter"].info.description = "Baseline scatter in units of the per-integration errors (1 = as expected)"
        meta.update(
            product=f"{product.kind} spectrum", kind=product.kind,
            in_transit_hours=product.in_transit_hours, baseline_hours=product.baseline_hours,
            n_in_transit=product.n_in_transit, n_baseline=product.n_baseline, input_unit=product.input_unit,
            errors_scaled=product.errors_scaled,
        )
    else:
        unit_text = _unit_string(product.amplitude.unit) or "input unit"
        for name, values, description in (
            ("amplitude", product.amplitude, f"Sinusoid semi-amplitude A [{unit_text}]"),
            ("amplitude_err", product.amplitude_error, "1-sigma error of amplitude"),
            ("relative_amplitude", product.relative_amplitude, "A / mean level of the channel, %"),
            ("relative_amplitude_err", product.relative_amplitude_error, "1-sigma error of relative_amplitude, %"),
            ("phase", product.phase, "Phase phi of A sin(2 pi t/P + phi), t = hours since t0, rad"),
            ("phase_err", product.phase_error, "1-sigma error of phase, rad"),
        ):
            table[name] = values
            table[name].info.description = description
        table["chi2_reduced"] = np.asarray(product.chi2_reduced, dtype=np.float64)
        table["chi2_reduced"].info.description = "Reduced chi-square of the sinusoid fit"
        table["n_points"] = np.asarray(product.n_points, dtype=np.int64)
        table["n_points"].info.description = "Integrations used in the fit"
        meta.update(
            product="amplitude spectrum", period_hours=float(product.period.to_value(u.hour)),
            per_visit_offset=product.per_visit_offset, input_unit=product.input_unit,
        )
    observation = {k: product.meta[k] for k in _META_KEYWORDS if k in product.meta}
    meta.update(
        description=product.description, channels=product.binning, observation=observation,
        time_standard=product.meta.get("time_standard"), t0_mjd=product.meta.get("t0_mjd"),
        history=list(product.history),
    )
    table.meta.update(_jsonable(meta))
    return table


def write_science_product(product: "TransmissionSpectrum | AmplitudeSpectrum | Periodogram", path: str | Path) -> Path:
    """Write :func:`science_table` of ``product`` as ECSV (read back with ``QTable.read(path)``)."""
    path = Path(path)
    science_table(product).write(path, format="ascii.ecsv", overwrite=True)
    return path
