"""JWST pipeline ``x1dints`` files (extract_1d time series), both layouts.

* **old layout** (jwst < 1.19, ``MultiSpecModel``): one ``EXTRACT1D`` table per
  integration (and SOSS order / NIRSpec detector), identity and time in header keywords.
* **new layout** (jwst >= 1.19, ``TSOMultiSpecModel``): one ``EXTRACT1D`` table per
  segment and order/detector, one row per integration, ``INT_NUM`` and time columns.

The layout is told from the structure (an ``INT_NUM`` column or keyword), never from
``CAL_VER``.  Times are joined to spectra by integration number, never by position
(FORMATS.md §8).  New-layout columns are handed over as memory-mapped views; old-layout
tables are read straight from the memory map at the offsets astropy reports, because
building an astropy ``FITS_rec`` per integration costs far more than parsing its header.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import astropy.units as u
import numpy as np
from astropy.io import fits

from ...problems import ReadError
from ..block import SpectralBlock
from ..registry import FITS_MAGIC, register_reader

BLOCK = 2880
DO_NOT_USE = 1
_MAX_HDUS_BEFORE_SPECTRA = 16

_STAGE3_NAME = re.compile(r"^jw\d{5}-[a-z]\d{3,}_", re.IGNORECASE)
_STAGE2_NAME = re.compile(r"^jw\d{11}_\d{5}_\d{5}", re.IGNORECASE)

# bytes per element of each FITS binary-table type code
_TFORM_BYTES = {"L": 1, "B": 1, "I": 2, "J": 4, "K": 8, "A": 1, "E": 4, "D": 8, "C": 8, "M": 16,
                "P": 8, "Q": 16}
_TFORM_NUMPY = {"B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "E": ">f4", "D": ">f8"}
_TFORM = re.compile(r"^\s*(\d*)\s*([LXBIJKAEDCMPQ])")


# --------------------------------------------------------------------------- identify


def _header_cards(handle: BinaryIO) -> tuple[dict[str, str], int] | None:
    """Read one header from ``handle``: its raw card values by keyword, and its byte length."""
    cards: dict[str, str] = {}
    length = 0
    while True:
        block = handle.read(BLOCK)
        if len(block) < BLOCK:
            return None
        length += BLOCK
        for start in range(0, BLOCK, 80):
            card = block[start:start + 80].decode("ascii", errors="replace")
            keyword = card[:8].strip()
            if keyword == "END":
                return cards, length
            if card[8:10] == "= " and keyword not in cards:
                cards[keyword] = card[10:].split("/", 1)[0].strip().strip("'").strip()


def _data_bytes(cards: dict[str, str]) -> int:
    try:
        naxis = int(cards.get("NAXIS", "0"))
        if naxis == 0:
            return 0
        size = 1
        for axis in range(1, naxis + 1):
            size *= int(cards[f"NAXIS{axis}"])
        size = abs(int(cards["BITPIX"])) // 8 * int(cards.get("GCOUNT", "1")) * (size + int(cards.get("PCOUNT", "0")))
    except (KeyError, ValueError):
        return -1
    return size + (-size % BLOCK)


def _probe(path: Path) -> str:
    """Walk the first HDU headers without astropy.

    Returns ``"extract1d"`` when an ``EXTRACT1D`` extension is found, ``"truncated"`` when
    the file ends inside a header or before the data its headers announce, else ``"other"``.
    """
    size = path.stat().st_size
    with open(path, "rb") as handle:
        for _ in range(_MAX_HDUS_BEFORE_SPECTRA):
            if handle.tell() == size:
                return "other"
            parsed = _header_cards(handle)
            if parsed is None:
                return "truncated"
            cards, _ = parsed
            if cards.get("EXTNAME", "").upper() == "EXTRACT1D":
                return "extract1d"
            skip = _data_bytes(cards)
            if skip < 0:
                return "other"
            if handle.tell() + skip > size:
                return "truncated"
            handle.seek(skip, 1)
    return "other"


def identify(path: Path, head: bytes) -> bool:
    """A FITS file with an ``EXTRACT1D`` extension among its first HDUs (or cut short before it,
    so that the user hears the file is truncated rather than of an unknown kind)."""
    return head.startswith(FITS_MAGIC) and _probe(Path(path)) in ("extract1d", "truncated")


# --------------------------------------------------------------------------- scanning


@dataclass
class _Scalar:
    """An old-layout (or one-integration) table: one integration, rows = wavelengths."""

    offset: int
    n_rows: int
    dtype: np.dtype
    int_num: int | None
    tdb_mid: float
    mjd_avg: float


@dataclass
class _Piece:
    """Rows of one element as arrays: (n_int, n_wave) spectra with their identities."""

    wavelength: np.ndarray  # (n_int, n_wave)
    flux: np.ndarray
    error: np.ndarray
    bad: np.ndarray | None
    int_num: np.ndarray  # int, -1 where unknown
    tdb_mid: np.ndarray
    mjd_avg: np.ndarray
    local_numbers: bool = False  # INT_NUM counts within the file/segment, not the exposure


@dataclass
class _Group:
    sporder: int
    detector: str
    tables: list[_Scalar | _Piece] = field(default_factory=list)  # in file order


@dataclass
class _Layout:
    """What one pass over the HDU list found."""

    primary: fits.Header
    int_times: np.ndarray | None
    groups: dict[tuple[int, str], _Group]
    new_layout: bool
    flux_unit: str | None
    n_tables: int


def _scalar_dtype(header: fits.Header) -> tuple[np.dtype, str | None]:
    """A structured dtype picking WAVELENGTH/FLUX/FLUX_ERROR/DQ out of a table row."""
    offset = 0
    names, formats, offsets = [], [], []
    flux_unit = None
    for i in range(1, int(header["TFIELDS"]) + 1):
        name = str(header.get(f"TTYPE{i}", "")).strip().upper()
        match = _TFORM.match(str(header.get(f"TFORM{i}", "")))
        if match is None:
            raise ReadError(f"EXTRACT1D column {name or i} has an unreadable format")
        repeat = int(match.group(1) or 1)
        code = match.group(2)
        width = (repeat + 7) // 8 if code == "X" else repeat * _TFORM_BYTES[code]
        if name in ("WAVELENGTH", "FLUX", "FLUX_ERROR", "DQ") and repeat == 1 and code in _TFORM_NUMPY:
            names.append(name)
            formats.append(_TFORM_NUMPY[code])
            offsets.append(offset)
            if name == "FLUX":
                flux_unit = header.get(f"TUNIT{i}")
        offset += width
    missing = {"WAVELENGTH", "FLUX"} - set(names)
    if missing:
        raise ReadError(f"EXTRACT1D has no {' or '.join(sorted(missing))} column")
    if offset != int(header["NAXIS1"]):
        raise ReadError("EXTRACT1D table rows do not match their column formats (corrupt header)")
    dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": offset})
    return dtype, flux_unit


def _finite_or_nan(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return np.nan
    return number if np.isfinite(number) and number > 0 else np.nan


def _vector_piece(data: fits.FITS_rec) -> _Piece:
    """A new-layout table as views (columns stay memory-mapped)."""
    names = {name.upper(): name for name in data.columns.names}
    if "FLUX" not in names or "WAVELENGTH" not in names:
        raise ReadError("EXTRACT1D has no WAVELENGTH or FLUX column")
    n = len(data)
    flux = data[names["FLUX"]]
    wavelength = data[names["WAVELENGTH"]]
    error = data[names["FLUX_ERROR"]] if "FLUX_ERROR" in names else np.full(flux.shape, np.nan)
    if flux.ndim == 1:  # a table of one-element vectors
        flux, wavelength, error = flux[:, None], wavelength[:, None], error[:, None]
    width = flux.shape[1]
    bad = None
    if "DQ" in names:
        dq = np.asarray(data[names["DQ"]]).reshape(flux.shape)
        bad = (dq & DO_NOT_USE) != 0
    if "N_ALONGDISP" in names:
        valid = np.asarray(data[names["N_ALONGDISP"]], dtype=np.int64)
        used = int(valid.max()) if n else width
        if 0 < used < width:  # drop padding every row shares, as views
            flux, wavelength, error = flux[:, :used], wavelength[:, :used], error[:, :used]
            bad = bad[:, :used] if bad is not None else None
            width = used
        padding = np.arange(width)[None, :] >= valid[:, None]
        if padding.any():
            bad = padding if bad is None else bad | padding
    if "INT_NUM" in names:
        int_num = np.asarray(data[names["INT_NUM"]], dtype=np.int64)
    else:
        int_num = np.full(n, -1, dtype=np.int64)

    def column(name: str) -> np.ndarray:
        if name not in names:
            return np.full(n, np.nan)
        values = np.asarray(data[names[name]], dtype=float)
        return np.where(np.isfinite(values) & (values > 0), values, np.nan)

    tdb, mjd = column("TDB-MID"), column("MJD-AVG")
    # extract_1d leaves every time column NaN (and counts INT_NUM within the file) when
    # INT_TIMES did not cover the segment
    local = bool(n) and np.isnan(tdb).all() and np.isnan(mjd).all() and "MJD-AVG" in names
    return _Piece(wavelength, flux, error, bad, int_num, tdb, mjd, local_numbers=local)


def _scan(hdul: fits.HDUList, file_size: int) -> _Layout:
    """One pass over the HDU list, reading only the headers of the spectral tables."""
    primary: fits.Header | None = None
    int_times = None
    groups: dict[tuple[int, str], _Group] = {}
    dtypes: dict[tuple[int, int], tuple[np.dtype, str | None]] = {}
    flux_unit: str | None = None
    new_layout = False
    n_tables = 0
    for index, hdu in enumerate(hdul):
        header = hdu.header
        if index == 0:
            primary = header
            default_detector = str(header.get("DETECTOR", "")).strip()
            continue
        extname = str(header.get("EXTNAME", "")).strip().upper()
        if extname not in ("EXTRACT1D", "INT_TIMES"):
            continue  # ASDF, HDRTAB, INT_TIMES_STRIPE, a stray SCI …
        n_cols, n_rows = int(header.get("NAXIS1", 0)), int(header.get("NAXIS2", 0))
        offset = hdu.fileinfo()["datLoc"]
        if offset + n_cols * n_rows > file_size:
            raise ReadError(
                f"is truncated: it ends inside {extname} table {index} "
                f"(an incomplete download?)"
            )
        if extname == "INT_TIMES":
            int_times = np.asarray(hdu.data) if n_rows else None
            continue
        n_tables += 1
        detector = str(header.get("DETECTOR", default_detector)).strip().upper()
        key = (int(header.get("SPORDER", 1)), detector)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(*key)
        if header.get("TTYPE1") == "INT_NUM" or "TDIM2" in header:
            new_layout = True
            data = hdu.data
            if flux_unit is None:
                flux_unit = _column_unit(data, "FLUX")
            group.tables.append(_vector_piece(data))
            continue
        signature = (n_cols, int(header.get("TFIELDS", 0)))
        if signature not in dtypes:
            dtypes[signature] = _scalar_dtype(header)
        dtype, unit = dtypes[signature]
        flux_unit = flux_unit if flux_unit is not None else unit
        int_num = header.get("INT_NUM")
        group.tables.append(_Scalar(
            offset, n_rows, dtype, int(int_num) if int_num is not None else None,
            _finite_or_nan(header.get("TDB-MID")), _finite_or_nan(header.get("MJD-AVG")),
        ))
    if primary is None:
        raise ReadError("is an empty FITS file")
    if str(primary.get("DATAMODL", "")).strip() == "TSOMultiSpecModel":
        new_layout = True
    return _Layout(primary, int_times, groups, new_layout, flux_unit, n_tables)


def _column_unit(data: fits.FITS_rec, name: str) -> str | None:
    for column in data.columns:
        if column.name.upper() == name:
            return column.unit
    return None


def _stack_scalars(path: Path, scalars: list[_Scalar]) -> _Piece:
    """Old-layout tables of one element → one (n_int, n_wave) piece, read from a memory map."""
    if len({s.n_rows for s in scalars}) > 1:
        # detectors of unequal length hidden in one group: stack runs of equal length, pad
        runs: list[list[_Scalar]] = []
        for s in scalars:
            if runs and runs[-1][0].n_rows == s.n_rows:
                runs[-1].append(s)
            else:
                runs.append([s])
        return _merge([_stack_scalars(path, run) for run in runs])
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    records = [raw[s.offset:s.offset + s.n_rows * s.dtype.itemsize].view(s.dtype) for s in scalars]
    names = scalars[0].dtype.names
    wavelength = np.stack([r["WAVELENGTH"] for r in records])
    flux = np.stack([r["FLUX"] for r in records])
    error = np.stack([r["FLUX_ERROR"] for r in records]) if "FLUX_ERROR" in names else np.full(flux.shape, np.nan)
    bad = None
    if "DQ" in names:
        # DQ is uint32 stored with TZERO = 2**31: the offset leaves bit 0 (DO_NOT_USE) as stored
        bad = (np.stack([r["DQ"] for r in records]) & DO_NOT_USE) != 0
    del records, raw
    int_num = np.array([-1 if s.int_num is None else s.int_num for s in scalars], dtype=np.int64)
    tdb = np.array([s.tdb_mid for s in scalars])
    mjd = np.array([s.mjd_avg for s in scalars])
    return _Piece(wavelength, flux, error, bad, int_num, tdb, mjd)


def _merge(pieces: list[_Piece]) -> _Piece:
    """Concatenate the pieces of one element (segments of a stage-3 file), padding widths."""
    if len(pieces) == 1:
        return pieces[0]
    width = max(p.flux.shape[1] for p in pieces)

    def pad(values: np.ndarray, fill: Any) -> np.ndarray:
        if values.shape[1] == width:
            return values
        out = np.full((values.shape[0], width), fill, dtype=values.dtype)
        out[:, :values.shape[1]] = values
        return out

    bad = [pad(p.bad if p.bad is not None else np.zeros(p.flux.shape, bool), True) for p in pieces]
    for b, p in zip(bad, pieces):
        b[:, p.flux.shape[1]:] = True
    return _Piece(
        np.concatenate([pad(np.asarray(p.wavelength, float), np.nan) for p in pieces]),
        np.concatenate([pad(np.asarray(p.flux, float), np.nan) for p in pieces]),
        np.concatenate([pad(np.asarray(p.error, float), np.nan) for p in pieces]),
        np.concatenate(bad),
        np.concatenate([p.int_num for p in pieces]),
        np.concatenate([p.tdb_mid for p in pieces]),
        np.concatenate([p.mjd_avg for p in pieces]),
        local_numbers=any(p.local_numbers for p in pieces),
    )


def _take(piece: _Piece, rows: np.ndarray) -> _Piece:
    return _Piece(
        piece.wavelength[rows], piece.flux[rows], piece.error[rows],
        None if piece.bad is None else piece.bad[rows],
        piece.int_num[rows], piece.tdb_mid[rows], piece.mjd_avg[rows], piece.local_numbers,
    )


# --------------------------------------------------------------------------- elements


def _split_by_wavelength(piece: _Piece) -> list[tuple[float, _Piece]]:
    """Rows whose wavelength ranges do not overlap belong to different detectors."""
    finite = np.isfinite(piece.wavelength)
    lo = np.where(finite, piece.wavelength, np.inf).min(axis=1)
    hi = np.where(finite, piece.wavelength, -np.inf).max(axis=1)
    order = np.argsort(lo, kind="stable")
    reach = np.maximum.accumulate(hi[order])
    # a new range starts where a row begins beyond everything seen so far
    starts = np.concatenate([[0], np.cumsum(lo[order][1:] > reach[:-1])])
    cluster = np.empty(lo.size, dtype=int)
    cluster[order] = starts
    current = int(starts[-1])
    parts = []
    for c in range(current + 1):
        part = _take(piece, np.flatnonzero(cluster == c))
        used = np.flatnonzero(np.isfinite(part.wavelength).any(axis=0))
        if used.size and used[-1] + 1 < part.wavelength.shape[1]:  # drop padding of a shorter detector
            end = used[-1] + 1
            part = _Piece(part.wavelength[:, :end], part.flux[:, :end], part.error[:, :end],
                          None if part.bad is None else part.bad[:, :end],
                          part.int_num, part.tdb_mid, part.mjd_avg, part.local_numbers)
        parts.append((float(lo[cluster == c].min()), part))
    return parts


def _element_name(exp_type: str, instrument: str, sporder: int, detector: str,
                  several_orders: bool, several_detectors: bool) -> str:
    if exp_type == "NIS_SOSS" or several_orders:
        return f"order {sporder}"
    if instrument == "NIRSPEC" or several_detectors:
        return detector
    return ""


# --------------------------------------------------------------------------- times


def _int_times_columns(table: np.ndarray) -> dict[str, np.ndarray]:
    names = {name.lower(): name for name in table.dtype.names or ()}
    out = {}
    for key in ("integration_number", "int_mid_bjd_tdb", "int_mid_mjd_utc"):
        if key in names:
            out[key] = np.asarray(table[names[key]], dtype=float)
    return out


def _join(numbers: np.ndarray, listed: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` of the INT_TIMES rows whose integration_number equals ``numbers`` (NaN elsewhere)."""
    out = np.full(numbers.size, np.nan)
    usable = (listed > 0) & np.isfinite(values) & (values > 0)
    listed, values = listed[usable], values[usable]
    if listed.size == 0:
        return out
    order = np.argsort(listed, kind="stable")
    listed, values = listed[order], values[order]
    pos = np.clip(np.searchsorted(listed, numbers), 0, listed.size - 1)
    hit = listed[pos] == numbers
    out[hit] = values[pos[hit]]
    return out


def _cadence_times(primary: fits.Header, numbers: np.ndarray) -> np.ndarray | None:
    """Mid-integration MJD (UTC) from EXPSTART and the read pattern, or None."""
    start = _finite_or_nan(primary.get("EXPSTART"))
    if np.isnan(start):
        return None
    tframe = _finite_or_nan(primary.get("TFRAME"))
    tgroup = _finite_or_nan(primary.get("TGROUP"))
    ngroups = primary.get("NGROUPS")
    cadence = np.nan
    if not np.isnan(tframe) and not np.isnan(tgroup) and ngroups:
        gap = int(primary.get("GROUPGAP", 0) or 0)
        cadence = int(ngroups) * tgroup - gap * tframe + int(primary.get("NRESETS", 1) or 0) * tframe
    if np.isnan(cadence):
        end, nints = _finite_or_nan(primary.get("EXPEND")), primary.get("NINTS")
        if np.isnan(end) or not nints:
            return None
        cadence = (end - start) * 86400.0 / int(nints)
    exposure = _finite_or_nan(primary.get("EFFINTTM"))
    half = exposure / 2.0 if not np.isnan(exposure) else cadence / 2.0
    return start + ((numbers - 1) * cadence + half) / 86400.0


def _describe_numbers(numbers: np.ndarray) -> str:
    numbers = np.unique(numbers)
    if numbers.size == 1:
        return f"INT_NUM {numbers[0]}"
    if numbers[-1] - numbers[0] + 1 == numbers.size:
        return f"INT_NUM {numbers[0]}–{numbers[-1]}"
    return f"INT_NUM {numbers[0]}…{numbers[-1]}"


def _times(piece: _Piece, numbers: np.ndarray, int_times: dict[str, np.ndarray] | None,
           primary: fits.Header, notes: list[str]) -> tuple[np.ndarray, str]:
    """Mid time of each row and its standard: INT_TIMES BJD_TDB, TDB-MID, MJD UTC, EXPSTART."""
    tdb = np.full(numbers.size, np.nan)
    utc = np.full(numbers.size, np.nan)
    if int_times and "integration_number" in int_times:
        listed = int_times["integration_number"]
        if "int_mid_bjd_tdb" in int_times:
            tdb = _join(numbers, listed, int_times["int_mid_bjd_tdb"])
        if "int_mid_mjd_utc" in int_times:
            utc = _join(numbers, listed, int_times["int_mid_mjd_utc"])
    if not piece.local_numbers:
        tdb = np.where(np.isnan(tdb), piece.tdb_mid, tdb)
        utc = np.where(np.isnan(utc), piece.mjd_avg, utc)
    n_tdb, n_utc = int(np.isfinite(tdb).sum()), int(np.isfinite(utc).sum())
    if n_tdb and n_tdb >= n_utc:
        return tdb, "BJD_TDB"
    if n_utc:
        notes.append("no barycentric (BJD_TDB) times in the file: times are MJD UTC")
        return utc, "MJD_UTC"
    cadence = _cadence_times(primary, numbers)
    if cadence is None:
        raise ReadError(
            "has no usable integration times (no INT_TIMES rows for its integrations, "
            "no time columns and no EXPSTART/cadence keywords)"
        )
    why = ("its INT_TIMES table does not list these integrations" if int_times
           else "it has no INT_TIMES table")
    notes.append(
        f"no integration times: {why}, so times were computed as EXPSTART + integration × "
        "cadence (UTC, approximate; not barycentric)"
    )
    return cadence, "MJD_UTC (from EXPSTART + cadence)"


# --------------------------------------------------------------------------- metadata


def _text(header: fits.Header, key: str) -> str | None:
    value = header.get(key)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _stage(primary: fits.Header, path: Path) -> int:
    for name in (_text(primary, "FILENAME"), path.name):
        if not name:
            continue
        if _STAGE3_NAME.match(name):
            return 3
        if _STAGE2_NAME.match(name):
            return 2
    asn = _text(primary, "ASNTABLE") or ""
    return 3 if "tso3" in asn.lower() else 0


def _exposure_key(primary: fits.Header, path: Path) -> str:
    """Shared by every segment, detector and stage of one exposure."""
    program, observation, visit = (_text(primary, k) for k in ("PROGRAM", "OBSERVTN", "VISIT"))
    if program and observation and visit:
        key = f"jw{program}{observation}{visit}"
        parts = [_text(primary, k) for k in ("VISITGRP", "SEQ_ID", "ACT_ID")]
        if all(parts):
            key += "_" + "".join(parts)  # type: ignore[arg-type]
        exposure = _text(primary, "EXPOSURE")
        if exposure and exposure.isdigit():
            key += f"_{int(exposure):05d}"
        return key
    stem = path.name.split("_x1dints")[0]
    return re.sub(r"-seg\d+_[a-z0-9]+$", "", stem, flags=re.IGNORECASE)


def _meta(primary: fits.Header, stage: int, detector: str) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for key, card in (("target", "TARGNAME"), ("instrument", "INSTRUME"), ("exp_type", "EXP_TYPE"),
                      ("filter", "FILTER"), ("grating", "GRATING"), ("pupil", "PUPIL"),
                      ("subarray", "SUBARRAY"), ("program", "PROGRAM"), ("observation", "OBSERVTN"),
                      ("visit", "VISIT"), ("exposure_number", "EXPOSURE"), ("data_model", "DATAMODL")):
        value = _text(primary, card)
        if value is not None:
            meta[key] = value
    if "target" not in meta and _text(primary, "TARGPROP"):
        meta["target"] = _text(primary, "TARGPROP")
    if detector:
        meta["detector"] = detector
    date = _text(primary, "DATE-BEG") or _text(primary, "DATE-OBS")
    if date:
        meta["date"] = date
    if _text(primary, "CAL_VER"):
        meta["pipeline"] = f"jwst {_text(primary, 'CAL_VER')}"
    for key, card in (("nints", "NINTS"), ("segment_total", "EXSEGTOT"), ("segment", "EXSEGNUM"),
                      ("int_start", "INTSTART"), ("int_end", "INTEND")):
        value = primary.get(card)
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            meta[key] = int(value)
    if stage == 3:
        # tso3 (jwst < 3.0) copies EXSEGNUM/INTSTART/INTEND from its first input only
        for key in ("segment", "int_start", "int_end"):
            meta.pop(key, None)
    return meta


def _flux_unit(unit_text: str | None, primary: fits.Header, meta: dict[str, Any],
               notes: list[str]) -> u.UnitBase:
    if unit_text and unit_text.strip():
        text = unit_text.strip()
        unit = u.Unit(text, parse_strict="silent")
        if isinstance(unit, u.UnrecognizedUnit):
            notes.append(f"flux unit {text!r} is not a unit astropy knows; values shown as stored")
        return unit
    calibrated = str(primary.get("S_PHOTOM", "")).strip().upper() == "COMPLETE"
    meta["flux_unit_assumed"] = True
    notes.append(
        "FLUX has no unit in the file; assumed "
        + ("Jy (photometric calibration was run)" if calibrated else "DN/s (no photometric calibration)")
    )
    return u.Jy if calibrated else u.DN / u.s


# --------------------------------------------------------------------------- read


def read_x1dints(path: Path, source: str) -> list[SpectralBlock]:
    """Read an x1dints file into one :class:`SpectralBlock` per spectral element.

    Raises
    ------
    ReadError
        Single spectra (``x1d``), truncated files, files without usable spectra or times.
    """
    path = Path(path)
    size = path.stat().st_size
    if _probe(path) == "truncated":
        raise ReadError("is truncated: the file ends before its spectra (an incomplete download?)")
    with warnings.catch_warnings():
        # astropy warns about truncation and odd cards; sizes are checked below instead
        warnings.simplefilter("ignore")
        try:
            with fits.open(path, memmap=True, lazy_load_hdus=True) as hdul:
                layout = _scan(hdul, size)
        except ReadError:
            raise
        except (OSError, ValueError, IndexError, KeyError) as exc:
            if "truncat" in str(exc).lower() or "end of file" in str(exc).lower():
                raise ReadError("is truncated (an incomplete download?)") from exc
            raise ReadError(f"is not a readable FITS file ({exc})") from exc
    return _blocks(path, source, layout)


def _blocks(path: Path, source: str, layout: _Layout) -> list[SpectralBlock]:
    primary = layout.primary
    if not layout.groups:
        raise ReadError("has no EXTRACT1D spectra")
    file_notes: list[str] = []
    int_times = _int_times_columns(layout.int_times) if layout.int_times is not None else None
    if int_times is not None and not np.any(int_times.get("integration_number", np.zeros(0)) > 0):
        int_times = None
    merged: list[tuple[_Group, _Piece]] = []
    for group in layout.groups.values():
        pieces: list[_Piece] = []
        run: list[_Scalar] = []
        for table in group.tables + [None]:  # runs of one-integration tables are stacked at once
            if isinstance(table, _Scalar):
                run.append(table)
                continue
            if run:
                pieces.append(_stack_scalars(path, run))
                run = []
            if table is not None:
                pieces.append(table)
        merged.append((group, _merge(pieces)))

    tso = bool(primary.get("TSOVISIT", False))
    has_numbers = any(np.any(p.int_num > 0) for _, p in merged)
    if int_times is None and not layout.new_layout and not has_numbers:
        if layout.n_tables == 1:
            raise ReadError("holds a single spectrum, not a time series (no INT_TIMES)")
        if not tso:
            raise ReadError(
                f"holds {layout.n_tables} separate spectra without integration numbers or "
                "INT_TIMES (an x1d product, not a time series)"
            )
    if int_times is None and not layout.new_layout and all(p.flux.shape[0] == 1 for _, p in merged):
        raise ReadError("holds a single spectrum, not a time series (no INT_TIMES)")

    stage = _stage(primary, path)
    exposure = _exposure_key(primary, path)
    instrument = str(primary.get("INSTRUME", "")).strip().upper()
    exp_type = str(primary.get("EXP_TYPE", "")).strip().upper()

    # elements: (sporder, detector) groups; detectors hidden in one group are split by wavelength
    elements: list[tuple[int, str, _Piece]] = []
    for group, piece in merged:
        numbers = piece.int_num
        known = numbers[numbers > 0]
        if known.size != np.unique(known).size:
            parts = _split_by_wavelength(piece)
            if len(parts) > 1:
                names = (["NRS1", "NRS2"] if instrument == "NIRSPEC" and len(parts) == 2
                         else [f"{group.detector} part {k + 1}" for k in range(len(parts))])
                file_notes.append(
                    f"{' and '.join(names)} spectra share integration numbers; told apart by "
                    "wavelength range (old-layout stage-3 file)"
                )
                elements += [(group.sporder, name, part) for name, (_, part) in zip(names, parts)]
                continue
        elements.append((group.sporder, group.detector, piece))

    several_orders = len({e[0] for e in elements}) > 1
    several_detectors = len({e[1] for e in elements}) > 1
    blocks = []
    for sporder, detector, piece in elements:
        name = _element_name(exp_type, instrument, sporder, detector, several_orders, several_detectors)
        label = f" ({name})" if name else ""
        notes = list(file_notes)
        piece = _renumber(piece, primary, int_times, stage, notes)
        if _all_nan(piece.flux):
            file_notes.append(f"every FLUX value{label} is NaN: that spectrum was left out")
            continue
        times, standard = _times(piece, piece.int_num, int_times, primary, notes)
        keep = np.isfinite(times)
        if not keep.all():
            if not keep.any():
                raise ReadError("has no usable integration times")
            missing = piece.int_num[~keep]
            notes.append(
                f"INT_TIMES has no time for {missing.size} of {keep.size} integrations "
                f"({_describe_numbers(missing)}){f' of {name}' if name else ''}; they were left out"
            )
            piece = _take(piece, np.flatnonzero(keep))
            times = times[keep]
        meta = _meta(primary, stage, detector)
        unit = _flux_unit(layout.flux_unit, primary, meta, notes)
        blocks.append(SpectralBlock(
            source=source,
            layout="x1dints-new" if layout.new_layout else "x1dints-old",
            wavelength=_shared_wavelength(piece.wavelength),
            flux=piece.flux,
            error=piece.error,
            flux_unit=unit,
            integration=piece.int_num,
            time_mjd=times,
            time_standard=standard,
            element=name,
            exposure=exposure,
            stage=stage,
            meta=meta,
            bad=piece.bad if piece.bad is not None and piece.bad.any() else None,
            notes=notes,
        ))
    if not blocks:
        raise ReadError("every FLUX value is NaN: nothing was extracted")
    for block in blocks:  # caveats found after a block was built concern every element
        block.notes.extend(n for n in file_notes if n not in block.notes)
    return blocks


def _renumber(piece: _Piece, primary: fits.Header, int_times: dict[str, np.ndarray] | None,
              stage: int, notes: list[str]) -> _Piece:
    """Make INT_NUM exposure-global when the pipeline counted within the file."""
    numbers = piece.int_num
    n = numbers.size
    if (numbers <= 0).any():
        # no INT_NUM at all: file order, starting at this segment's first integration
        start = int(primary.get("INTSTART", 1) or 1) if stage != 3 else 1
        numbers = np.arange(start, start + n)
        notes.append("no integration numbers in the file: counted in file order")
        return _with_numbers(piece, numbers)
    local = piece.local_numbers or (int_times is None and stage != 3)
    start = int(primary.get("INTSTART", 1) or 1)
    if local and stage != 3 and start > 1 and numbers.min() == 1 and numbers.max() == n:
        notes.append(f"INT_NUM counts within this segment; shifted to start at INTSTART = {start}")
        return _with_numbers(piece, numbers + (start - 1))
    if numbers.size != np.unique(numbers).size and int_times is None:
        notes.append("INT_NUM restarts inside the file (segments without INT_TIMES): counted in file order")
        return _with_numbers(piece, np.arange(1, n + 1))
    return piece


def _with_numbers(piece: _Piece, numbers: np.ndarray) -> _Piece:
    return _Piece(piece.wavelength, piece.flux, piece.error, piece.bad, numbers.astype(np.int64),
                  piece.tdb_mid, piece.mjd_avg, piece.local_numbers)


def _all_nan(flux: np.ndarray) -> bool:
    if flux.size == 0:
        return True
    if np.isfinite(flux[0]).any():  # the usual case, without touching the whole memory map
        return False
    return not np.isfinite(flux).any()


def _shared_wavelength(wavelength: np.ndarray) -> np.ndarray:
    """One wavelength row when every integration has the same grid (the normal case)."""
    first = wavelength[0]
    if wavelength.shape[0] == 1 or np.array_equal(wavelength, np.broadcast_to(first, wavelength.shape), equal_nan=True):
        return np.asarray(first, dtype=float)
    return np.asarray(wavelength, dtype=float)


register_reader(
    "x1dints",
    identify,
    read_x1dints,
    priority=10,
    description="JWST pipeline x1dints time series (old MultiSpecModel and new TSOMultiSpecModel layouts)",
)
