"""JWST pipeline ``x1dints`` files (extract_1d time series), both layouts.

* **old layout** (jwst < 1.19, ``MultiSpecModel``): one ``EXTRACT1D`` table per
  integration (and SOSS order / NIRSpec detector), identity and time in header keywords.
* **new layout** (jwst >= 1.19, ``TSOMultiSpecModel``): one ``EXTRACT1D`` table per
  segment and order/detector, one row per integration, ``INT_NUM`` and time columns.

The layout is told from the structure (an ``INT_NUM`` column or keyword), never from
``CAL_VER``.  Times are joined to spectra by integration number, never by position
(FORMATS.md §8).

The file is walked one header at a time (:mod:`stamp_engine.io.fits_scan`: header cards,
TFORM record dtypes) and never opened as an astropy ``HDUList``:
an old-layout file holds one table per integration, and astropy's per-HDU header
objects (kept alive by the list) cost several times the spectra's own bytes and most
of the read time.  Only the keywords that matter are kept from each extension header;
table rows are read through one memory map of the file with a record dtype built from
the column definitions (once per distinct set of ``TFORM``\\s).  New-layout columns are
handed over as memory-mapped views; old-layout tables are copied into one preallocated
array per element.  Only the primary header becomes an astropy ``Header``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
from astropy.io import fits

from ...problems import ReadError
from .. import fits_scan
from ..block import CADENCE_FALLBACK, SpectralBlock
from ..registry import FITS_MAGIC, register_reader

DO_NOT_USE = 1
_MAX_HDUS_BEFORE_SPECTRA = 16

_STAGE3_NAME = re.compile(r"^jw\d{5}-[a-z]\d{3,}_", re.IGNORECASE)
_STAGE2_NAME = re.compile(r"^jw\d{11}_\d{5}_\d{5}", re.IGNORECASE)


#: EXTRACT1D columns the reader uses; DQ is read as the low byte of each value (bit 0 is all it needs).
_SPECTRAL_COLUMNS = ("WAVELENGTH", "FLUX", "FLUX_ERROR", "DQ", "INT_NUM", "N_ALONGDISP", "TDB-MID", "MJD-AVG")
_INT_TIMES_COLUMNS = ("INTEGRATION_NUMBER", "INT_MID_BJD_TDB", "INT_MID_MJD_UTC")
#: DQ is uint32 stored as int32 with ``TZERO = 2**31``: its low byte holds DO_NOT_USE (bit 0) as stored
#: (see :func:`~stamp_engine.io.fits_scan.table_columns`); a converted uint32 copy of a new-layout DQ
#: is as large as FLUX in float32.
_LOW_BYTE_COLUMNS = ("DQ",)

#: Rows of a new-layout table whose WAVELENGTH is compared with the first row's (see _shared_wavelength).
_WAVELENGTH_SAMPLE_ROWS = 32


# --------------------------------------------------------------------------- identify


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
            parsed = fits_scan.header_cards(handle)
            if parsed is None:
                return "truncated"
            cards, _ = parsed
            if fits_scan.card_text(cards, "EXTNAME").upper() == "EXTRACT1D":
                return "extract1d"
            skip = fits_scan.data_bytes(cards)
            if skip < 0:
                return "other"
            if handle.tell() + skip > size:
                return "truncated"
            handle.seek(fits_scan.padded(skip), 1)
    return "other"


def identify(path: Path, head: bytes) -> bool:
    """A FITS file with an ``EXTRACT1D`` extension among its first HDUs (or cut short before it,
    so that the user hears the file is truncated rather than of an unknown kind)."""
    return head.startswith(FITS_MAGIC) and _probe(Path(path)) in ("extract1d", "truncated")



def _flagged(values: np.ndarray, column: fits_scan.Column) -> np.ndarray:
    """Where DQ has DO_NOT_USE (bit 0) set, as bool, from the stored low bytes."""
    if column.low_byte:
        return np.bitwise_and(values["low"], DO_NOT_USE).view(bool)
    return (np.rint(fits_scan.numbers(values, column)).astype(np.int64) & DO_NOT_USE) != 0


def _positive_or_nan(values: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(values) & (values > 0), values, np.nan)


def _finite_or_nan(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return np.nan
    return number if np.isfinite(number) and number > 0 else np.nan


# --------------------------------------------------------------------------- scanning


@dataclass(slots=True)
class _Scalar:
    """An old-layout (or one-integration) table: one integration, rows = wavelengths."""

    offset: int
    n_rows: int
    table: fits_scan.Columns
    int_num: int | None
    tdb_mid: float
    mjd_avg: float


@dataclass
class _Piece:
    """Rows of one element as arrays: (n_int, n_wave) spectra with their identities."""

    wavelength: np.ndarray  # (n_wave,) when every row shares it, else (n_int, n_wave)
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
    """What one pass over the headers found."""

    primary: fits.Header
    raw: np.ndarray  # the whole file, memory-mapped bytes
    int_times: dict[str, np.ndarray] | None
    groups: dict[tuple[int, str], _Group]
    new_layout: bool
    flux_unit: str | None
    n_tables: int
    has_asdf: bool = False
    empty_tables: list[str] = field(default_factory=list)  # "HDU 5, order 2, INT_NUM 12" of tables without rows


def _records(raw: np.ndarray, offset: int, n_rows: int, table: fits_scan.Columns) -> np.ndarray:
    """``n_rows`` table rows at ``offset`` as a structured view of the memory map."""
    return raw[offset:offset + n_rows * table.dtype.itemsize].view(table.dtype)


def _scan(path: Path, raw: np.ndarray) -> _Layout:
    """One pass over the headers, keeping only what each spectral table needs."""
    size = raw.size
    primary: fits.Header | None = None
    default_detector = ""
    int_times = None
    groups: dict[tuple[int, str], _Group] = {}
    tables: dict[tuple[str | None, ...], fits_scan.Columns] = {}
    flux_unit: str | None = None
    new_layout = False
    n_tables = 0
    has_asdf = False
    empty_tables: list[str] = []
    with open(path, "rb") as handle:
        index = 0
        position = 0
        while position < size:
            handle.seek(position)
            if index and handle.read(8) != b"XTENSION":
                break  # bytes after the last HDU (zero padding some writers add) are not an HDU
            handle.seek(position)
            parsed = fits_scan.header_cards(handle)
            if parsed is None:
                raise ReadError(f"is truncated: it ends inside the header of HDU {index} (an incomplete download?)")
            cards, length = parsed
            data_start = position + length
            n_bytes = fits_scan.data_bytes(cards)
            if n_bytes < 0:
                raise ReadError(f"is not a readable FITS file (HDU {index} has no valid BITPIX/NAXIS)")
            extname = fits_scan.card_text(cards, "EXTNAME").upper()
            if data_start + n_bytes > size:
                where = f"{extname} table {index}" if extname else f"HDU {index}"
                if n_bytes > 2 * size:  # far more than any cut-short download: a header that lies
                    raise ReadError(f"declares {n_bytes:,} bytes of data in {where} (NAXIS × BITPIX, PCOUNT) but the "
                                    f"whole file has {size:,}: a corrupt or crafted header; nothing was read")
                raise ReadError(f"is truncated: it ends inside {where} (an incomplete download?)")
            position = data_start + fits_scan.padded(n_bytes)
            if index == 0:
                handle.seek(0)
                primary = fits.Header.fromstring(handle.read(length).decode("ascii", errors="replace"))
                default_detector = str(primary.get("DETECTOR", "")).strip()
                index += 1
                continue
            index += 1
            if extname == "INT_TIMES":
                times = fits_scan.table_columns(cards, _INT_TIMES_COLUMNS, "INT_TIMES")
                n_rows = fits_scan.card_int(cards, "NAXIS2", 0)
                if n_rows:
                    records = _records(raw, data_start, n_rows, times)
                    int_times = {name.lower(): fits_scan.numbers(records[name], column)
                                 for name, column in times.columns.items()}
                continue
            if extname != "EXTRACT1D":
                has_asdf = has_asdf or extname == "ASDF"
                continue  # ASDF, HDRTAB, INT_TIMES_STRIPE, a stray SCI …
            n_tables += 1
            key = fits_scan.columns_key(cards, "EXTRACT1D")
            table = tables.get(key)
            if table is None:
                table = tables[key] = fits_scan.table_columns(cards, _SPECTRAL_COLUMNS, "EXTRACT1D", low_byte=_LOW_BYTE_COLUMNS)
                missing = {"WAVELENGTH", "FLUX"} - set(table.columns)
                if missing:
                    raise ReadError(f"EXTRACT1D has no {' or '.join(sorted(missing))} column")
            if flux_unit is None:
                flux_unit = table.columns["FLUX"].unit
            detector = fits_scan.card_text(cards, "DETECTOR", default_detector).upper()
            group_key = (fits_scan.card_int(cards, "SPORDER", 1), detector)
            n_rows = fits_scan.card_int(cards, "NAXIS2", 0)
            if n_rows == 0:  # nothing extracted there: no spectrum, and no integration to count
                int_num = fits_scan.card_int(cards, "INT_NUM")
                what = [f"HDU {index - 1}", f"order {group_key[0]}"]
                what += [detector] if detector != default_detector.upper() else []
                what += [f"INT_NUM {int_num}"] if int_num is not None else []
                empty_tables.append(f"EXTRACT1D table ({', '.join(what)}) has no rows")
                continue
            group = groups.get(group_key)
            if group is None:
                group = groups[group_key] = _Group(*group_key)
            if "INT_NUM" in table.columns or table.columns["FLUX"].repeat > 1:
                new_layout = True
                group.tables.append(_vector_piece(_records(raw, data_start, n_rows, table), table))
                continue
            group.tables.append(_Scalar(
                data_start, n_rows, table, fits_scan.card_int(cards, "INT_NUM"),
                _finite_or_nan(fits_scan.card_float(cards, "TDB-MID")), _finite_or_nan(fits_scan.card_float(cards, "MJD-AVG")),
            ))
    if primary is None:
        raise ReadError("is an empty FITS file")
    if str(primary.get("DATAMODL", "")).strip() == "TSOMultiSpecModel":
        new_layout = True
    return _Layout(primary, raw, int_times, groups, new_layout, flux_unit, n_tables, has_asdf, empty_tables)


def _vector_piece(records: np.ndarray, table: fits_scan.Columns) -> _Piece:
    """A new-layout table as views of the memory map (only the small columns are converted)."""
    columns = table.columns
    n = records.shape[0]
    flux = fits_scan.physical(records["FLUX"], columns["FLUX"])
    wavelength = fits_scan.physical(records["WAVELENGTH"], columns["WAVELENGTH"])
    if flux.ndim == 1:  # a table of one-element vectors
        flux, wavelength = flux[:, None], wavelength[:, None]
    if "FLUX_ERROR" in columns:
        error = fits_scan.physical(records["FLUX_ERROR"], columns["FLUX_ERROR"]).reshape(flux.shape)
    else:
        error = np.broadcast_to(np.nan, flux.shape)
    bad = _flagged(records["DQ"], columns["DQ"]).reshape(flux.shape) if "DQ" in columns else None
    width = flux.shape[1]
    if "N_ALONGDISP" in columns and n:
        valid = fits_scan.integers(records["N_ALONGDISP"], columns["N_ALONGDISP"])
        used = int(valid.max())
        if 0 < used < width:  # drop padding every row shares, as views
            flux, wavelength, error = flux[:, :used], wavelength[:, :used], error[:, :used]
            bad = bad[:, :used] if bad is not None else None
            width = used
        if (valid < width).any():  # in TSO data every row of a table has one length: rarely needed
            padding = np.arange(width)[None, :] >= valid[:, None]
            bad = padding if bad is None else bad | padding
    if bad is not None and not bad.any():
        bad = None
    if "INT_NUM" in columns:
        int_num = fits_scan.integers(records["INT_NUM"], columns["INT_NUM"])
    else:
        int_num = np.full(n, -1, dtype=np.int64)

    def times(name: str) -> np.ndarray:
        if name not in columns:
            return np.full(n, np.nan)
        return _positive_or_nan(fits_scan.numbers(records[name], columns[name]))

    tdb, mjd = times("TDB-MID"), times("MJD-AVG")
    # extract_1d leaves every time column NaN (and counts INT_NUM within the file) when
    # INT_TIMES did not cover the segment
    local = bool(n) and np.isnan(tdb).all() and np.isnan(mjd).all() and "MJD-AVG" in columns
    return _Piece(_sampled_grid(wavelength), flux, error, bad, int_num, tdb, mjd, local_numbers=local)


def _sample_rows(n: int) -> np.ndarray:
    """First, last and evenly spaced rows between them: about ``_WAVELENGTH_SAMPLE_ROWS`` in all."""
    return np.unique(np.linspace(0, n - 1, min(n, _WAVELENGTH_SAMPLE_ROWS)).round().astype(np.intp))


def _sampled_grid(wavelength: np.ndarray) -> np.ndarray:
    """One wavelength row for a new-layout table whose sampled rows all share it, else every row.

    ``make_tso_specmodel`` builds one table per segment and order/detector from spectra
    extracted on one wavelength solution, so a TSO table has one grid repeated in every row.
    Comparing every row would read the whole WAVELENGTH column (as large as FLUX); comparing
    the first, the last and ~30 evenly spaced rows catches a table that was built differently
    (a grid that drifts or changes with the integration changes in most rows, and so in the
    sample) for a fraction of the cost.  A grid differing in a single unsampled row would pass.
    """
    n = wavelength.shape[0]
    first = wavelength[0] if n else wavelength.reshape(-1)
    if n > 1:
        sample = wavelength[_sample_rows(n)]
        if not np.array_equal(sample, np.broadcast_to(first, sample.shape), equal_nan=True):
            return wavelength
    return np.array(first, dtype=np.float64)


def _stack_scalars(raw: np.ndarray, scalars: list[_Scalar]) -> _Piece:
    """Old-layout tables of one element → one (n_int, n_wave) piece, copied from the memory map.

    The output arrays are allocated once and filled table by table; each table's WAVELENGTH
    is compared with the first table's as it goes, so a full wavelength array is built only
    when some integration has a different grid (NRS1 and NRS2 in one old-layout stage-3 file).
    """
    if len({s.n_rows for s in scalars}) > 1:
        # detectors of unequal length hidden in one group: stack runs of equal length, pad
        runs: list[list[_Scalar]] = []
        for s in scalars:
            if runs and runs[-1][0].n_rows == s.n_rows:
                runs[-1].append(s)
            else:
                runs.append([s])
        return _merge([_stack_scalars(raw, run) for run in runs])
    n, width = len(scalars), scalars[0].n_rows
    flux = np.empty((n, width))
    error = np.empty((n, width))
    bad = np.zeros((n, width), dtype=bool)
    first: np.ndarray | None = None
    every: np.ndarray | None = None  # (n, width) wavelengths, once some table's grid differs
    for k, s in enumerate(scalars):
        records = _records(raw, s.offset, s.n_rows, s.table)
        columns = s.table.columns
        flux[k] = fits_scan.physical(records["FLUX"], columns["FLUX"])
        error[k] = fits_scan.physical(records["FLUX_ERROR"], columns["FLUX_ERROR"]) if "FLUX_ERROR" in columns else np.nan
        if "DQ" in columns:
            bad[k] = _flagged(records["DQ"], columns["DQ"])
        wavelength = fits_scan.physical(records["WAVELENGTH"], columns["WAVELENGTH"])
        if first is None:
            first = np.array(wavelength, dtype=np.float64)
        elif every is None and not np.array_equal(wavelength, first, equal_nan=True):
            every = np.empty((n, width))
            every[:k] = first
        if every is not None:
            every[k] = wavelength
    int_num = np.array([-1 if s.int_num is None else s.int_num for s in scalars], dtype=np.int64)
    tdb = np.array([s.tdb_mid for s in scalars])
    mjd = np.array([s.mjd_avg for s in scalars])
    return _Piece(first if every is None else every, flux, error, bad if bad.any() else None, int_num, tdb, mjd)


def _wavelength_rows(piece: _Piece) -> np.ndarray:
    """The piece's wavelengths (one shared grid or not) as one row per integration."""
    wavelength = piece.wavelength
    return np.broadcast_to(wavelength, piece.flux.shape) if wavelength.ndim == 1 else wavelength


def _merge(pieces: list[_Piece]) -> _Piece:
    """Concatenate the pieces of one element (segments of a stage-3 file), padding widths."""
    if len(pieces) == 1:
        return pieces[0]
    width = max(p.flux.shape[1] for p in pieces)
    first = pieces[0].wavelength
    shared = all(p.wavelength.ndim == 1 and p.wavelength.shape == first.shape
                 and np.array_equal(p.wavelength, first, equal_nan=True) for p in pieces)

    def pad(values: np.ndarray, fill: Any) -> np.ndarray:
        if values.shape[1] == width:
            return values
        out = np.full((values.shape[0], width), fill, dtype=values.dtype)
        out[:, :values.shape[1]] = values
        return out

    bad = None
    if any(p.bad is not None or p.flux.shape[1] < width for p in pieces):
        bad = [pad(p.bad if p.bad is not None else np.zeros(p.flux.shape, bool), True) for p in pieces]
        for b, p in zip(bad, pieces):
            b[:, p.flux.shape[1]:] = True
        bad = np.concatenate(bad)
    return _Piece(
        first if shared else np.concatenate([pad(np.asarray(_wavelength_rows(p), float), np.nan)
                                             for p in pieces]),
        np.concatenate([pad(np.asarray(p.flux, float), np.nan) for p in pieces]),
        np.concatenate([pad(np.asarray(p.error, float), np.nan) for p in pieces]),
        bad,
        np.concatenate([p.int_num for p in pieces]),
        np.concatenate([p.tdb_mid for p in pieces]),
        np.concatenate([p.mjd_avg for p in pieces]),
        local_numbers=any(p.local_numbers for p in pieces),
    )


def _take(piece: _Piece, rows: np.ndarray) -> _Piece:
    return _Piece(
        piece.wavelength if piece.wavelength.ndim == 1 else piece.wavelength[rows],
        piece.flux[rows], piece.error[rows],
        None if piece.bad is None else piece.bad[rows],
        piece.int_num[rows], piece.tdb_mid[rows], piece.mjd_avg[rows], piece.local_numbers,
    )


# --------------------------------------------------------------------------- elements


def _split_by_wavelength(piece: _Piece) -> list[tuple[float, _Piece]]:
    """Rows whose wavelength ranges do not overlap belong to different detectors."""
    if piece.wavelength.ndim == 1:  # one grid for every row: one detector
        return [(float(np.nanmin(piece.wavelength)), piece)]
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
    if int_times and np.any(int_times.get("integration_number", np.zeros(0)) > 0):
        listed = int_times["integration_number"]
        listed = listed[listed > 0].astype(np.int64)
        why = f"INT_TIMES lists only {_describe_numbers(listed).replace('INT_NUM', 'integrations', 1)}"
    else:
        why = "the file has no INT_TIMES table listing an integration"
    notes.append(
        f"no integration times for {_describe_numbers(numbers)}: {why}, so the fallback "
        "EXPSTART + (INT_NUM − 1) × cadence + half an integration was used (MJD UTC from the read "
        "pattern keywords; approximate, not barycentric)"
    )
    return cadence, CADENCE_FALLBACK


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
    try:
        if path.stat().st_size == 0:
            raise ReadError("is an empty file")
        raw = np.memmap(path, dtype=np.uint8, mode="r")
    except OSError as exc:
        raise ReadError(f"could not be read ({exc.strerror or exc})") from exc
    return _blocks(path, source, _scan(path, raw))


def _blocks(path: Path, source: str, layout: _Layout) -> list[SpectralBlock]:
    primary = layout.primary
    if not layout.groups:
        raise ReadError("has no EXTRACT1D spectra")
    file_notes: list[str] = []
    file_info: list[str] = []
    if not layout.has_asdf and _text(primary, "DATAMODL"):
        # a download that stops exactly between two HDUs reads as a complete, shorter file
        file_notes.append(f"has no ASDF HDU, which the pipeline writes last: the file may be cut short after "
                          f"its {layout.n_tables} EXTRACT1D table(s) (an incomplete download?)")
    if layout.empty_tables:
        more = len(layout.empty_tables) - 5
        file_notes.append("; ".join(layout.empty_tables[:5]) + (f"; {more} more such tables" if more > 0 else "")
                          + ": left out (nothing was extracted there)")
    int_times = layout.int_times
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
                pieces.append(_stack_scalars(layout.raw, run))
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
                file_info.append(
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
        if stage != 3:
            _note_segment_lacking(piece.int_num, primary, label, notes)
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
            info=list(file_info),
        ))
    if not blocks:
        raise ReadError("every FLUX value is NaN: nothing was extracted")
    for block in blocks:  # caveats found after a block was built concern every element
        block.notes.extend(n for n in file_notes if n not in block.notes)
    return blocks


def _renumber(piece: _Piece, primary: fits.Header, int_times: dict[str, np.ndarray] | None,
              stage: int, notes: list[str]) -> _Piece:
    """Make INT_NUM exposure-global when the pipeline counted within the file.

    A segment file counts from 1 when extract_1d found no INT_TIMES rows for it (1.18 SOSS,
    both layouts): its numbers are exactly 1..n while the primary ``INTSTART`` (or, without
    it, an INT_TIMES listing exactly n integrations) says the segment starts later.  Left as
    they are, such numbers collide with segment 1's and join segment 1's times.
    """
    numbers = piece.int_num
    n = numbers.size
    unknown = numbers <= 0
    if unknown.any() and not unknown.all():
        # a one-integration segment is a bare SpecModel table among numbered ones (stage 3):
        # it continues the table before it; counting every row from 1 would shift the later
        # segments onto other integrations' numbers (and times) when a segment is missing
        filled = _numbered_after_neighbours(numbers)
        if filled.min() > 0 and np.unique(filled).size == n:
            notes.append(
                f"{_describe_numbers(filled[unknown])}: a one-integration table without an integration "
                "number, numbered after the table before it in the file"
            )
            return _with_numbers(piece, filled)
    if unknown.any():
        # no INT_NUM at all: file order, starting at this segment's first integration
        start = _segment_start(primary, int_times, n) if stage != 3 else 1
        numbers = np.arange(start, start + n)
        notes.append("no integration numbers in the file: counted in file order"
                     + (f" from INTSTART = {start}" if start > 1 else ""))
        return _with_numbers(piece, numbers)
    start = _segment_start(primary, int_times, n)
    counts_from_one = numbers.min() == 1 and numbers.max() == n and np.unique(numbers).size == n
    if stage != 3 and start > 1 and counts_from_one:
        notes.append(
            f"INT_NUM counts within this segment file (1–{n}) although it starts at integration {start} "
            f"of the exposure (INTSTART): renumbered {start}–{start + n - 1}"
        )
        return _with_numbers(piece, numbers + (start - 1))
    if numbers.size != np.unique(numbers).size and int_times is None:
        notes.append("INT_NUM restarts inside the file (segments without INT_TIMES): counted in file order")
        return _with_numbers(piece, np.arange(1, n + 1))
    return piece


def _note_segment_lacking(numbers: np.ndarray, primary: fits.Header, label: str, notes: list[str]) -> None:
    """Say which integrations of this segment's ``INTSTART``–``INTEND`` have no spectrum in the file."""
    start, end = primary.get("INTSTART"), primary.get("INTEND")
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (start, end)):
        return
    if not 1 <= start <= end or end - start > 10 * max(numbers.size, 1):
        return  # keywords that cannot describe this file
    lacking = np.setdiff1d(np.arange(start, end + 1), numbers)
    if lacking.size:
        notes.append(f"{_describe_numbers(lacking)} of this segment (INTSTART–INTEND = {start}–{end}) "
                     f"{'has' if lacking.size == 1 else 'have'} no spectrum{label} in the file")


def _numbered_after_neighbours(numbers: np.ndarray) -> np.ndarray:
    """Rows without a number (<= 0) get the last numbered row's number plus their distance from it
    (rows before the first numbered one: the first number minus their distance)."""
    index = np.arange(numbers.size)
    known = numbers > 0
    last = np.maximum.accumulate(np.where(known, index, -1))
    first = np.flatnonzero(known)[0]
    after = numbers[np.maximum(last, 0)] + (index - last)
    before = numbers[first] - (first - index)
    return np.where(known, numbers, np.where(last >= 0, after, before)).astype(np.int64)


def _segment_start(primary: fits.Header, int_times: dict[str, np.ndarray] | None, n: int) -> int:
    """The exposure-global number of this file's first integration: ``INTSTART``, else the first
    number of an INT_TIMES table listing exactly ``n`` consecutive integrations, else 1."""
    start = primary.get("INTSTART")
    if isinstance(start, (int, np.integer)) and not isinstance(start, bool) and start >= 1:
        return int(start)
    listed = np.unique(int_times["integration_number"]) if int_times and "integration_number" in int_times else None
    if listed is not None:
        listed = listed[listed > 0]
        if listed.size == n and n and listed[-1] - listed[0] == n - 1:
            return int(listed[0])
    return 1


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
    """One wavelength row when every integration has the same grid (the normal case).

    Pieces already carry one row when their tables share it; a full array here comes from
    tables with different grids, of which a subset (one detector, the rows with times) may
    still share one.
    """
    if wavelength.ndim == 1:
        return np.asarray(wavelength, dtype=np.float64)
    first = wavelength[0]
    if wavelength.shape[0] == 1 or np.array_equal(wavelength, np.broadcast_to(first, wavelength.shape), equal_nan=True):
        return np.asarray(first, dtype=np.float64)
    return np.asarray(wavelength, dtype=np.float64)


register_reader(
    "x1dints",
    identify,
    read_x1dints,
    priority=10,
    description="JWST pipeline x1dints time series (old MultiSpecModel and new TSOMultiSpecModel layouts)",
)
