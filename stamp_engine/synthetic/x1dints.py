"""Write synthetic observations as JWST ``x1dints`` FITS files, in both pipeline layouts.

The files mirror what ``calwebb_spec2`` / ``calwebb_tso3`` write (see FORMATS.md §1-§5):

* **old layout** (jwst < 1.19, ``MultiSpecModel``): one ``EXTRACT1D`` table per
  integration (and per SOSS order, interleaved; per NIRSpec detector, appended), with
  ``INT_NUM``, ``SPORDER``, ``MJD-*``/``TDB-*`` header keywords;
* **new layout** (jwst >= 1.19, ``TSOMultiSpecModel``): one ``EXTRACT1D`` table per
  (segment, order/detector), one row per integration, ``INT_NUM`` first, vector spectral
  columns with ``TDIM``, then ``N_ALONGDISP``, ``SEGMENT`` and six time columns.  A
  segment holding a single integration is a plain 1-D spectral table.

Both carry ``INT_TIMES`` (exposure-global ``integration_number``), the primary keywords
readers use and an ``ASDF`` stub HDU, and optionally the stray ``SCI`` / ``HDRTAB`` HDUs
found in some products.  Columns are built with whole-array NumPy operations.

Typical use::

    from stamp_engine.synthetic import make_observation
    from stamp_engine.synthetic.x1dints import write_segments

    obs = make_observation(n_integrations=600)
    paths = write_segments(tmp_path, obs, n_segments=3, layout="new")
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
from astropy.io import fits
from astropy.time import Time

from . import Observation, make_observation

__all__ = [
    "Element",
    "INSTRUMENT_MODES",
    "make_mode_observation",
    "stage2_filename",
    "stage3_filename",
    "write_reductions",
    "write_segments",
    "write_x1dints",
]

#: Spectral table columns in pipeline order (stdatamodels ``spectable.schema.yaml``),
#: with their TUNIT; ``"flux"`` / ``"flux2"`` are replaced by the flux unit (squared).
SPECTRAL_COLUMNS: tuple[tuple[str, str | None], ...] = (
    ("WAVELENGTH", "um"),
    ("FLUX", "flux"),
    ("FLUX_ERROR", "flux"),
    ("FLUX_VAR_POISSON", "flux2"),
    ("FLUX_VAR_RNOISE", "flux2"),
    ("FLUX_VAR_FLAT", "flux2"),
    ("SURF_BRIGHT", "MJy/sr"),
    ("SB_ERROR", "MJy/sr"),
    ("SB_VAR_POISSON", "MJy^2 / sr^2"),
    ("SB_VAR_RNOISE", "MJy^2 / sr^2"),
    ("SB_VAR_FLAT", "MJy^2 / sr^2"),
    ("DQ", None),
    ("BACKGROUND", "MJy/sr"),
    ("BKGD_ERROR", "MJy/sr"),
    ("BKGD_VAR_POISSON", "MJy^2 / sr^2"),
    ("BKGD_VAR_RNOISE", "MJy^2 / sr^2"),
    ("BKGD_VAR_FLAT", "MJy^2 / sr^2"),
    ("NPIXELS", None),
)

TIME_COLUMNS = ("MJD-BEG", "MJD-AVG", "MJD-END", "TDB-BEG", "TDB-MID", "TDB-END")

DO_NOT_USE = 1
NGROUPS = 20  # groups per integration in the synthetic read pattern

#: Instrument modes: header set-up, wavelength range(s) in µm with their column count,
#: and whether the pipeline stores wavelengths descending (SOSS, MIRI LRS).
INSTRUMENT_MODES: dict[str, dict[str, Any]] = {
    "nirspec_prism": {
        "meta": {"instrument": "NIRSPEC", "detector": "NRS1", "exp_type": "NRS_BRIGHTOBJ",
                 "filter": "CLEAR", "grating": "PRISM", "subarray": "SUB512"},
        "elements": [{"detector": "NRS1", "range": (0.6, 5.3), "n": 430}],
    },
    "nirspec_g395h": {
        "meta": {"instrument": "NIRSPEC", "detector": "NRS1", "exp_type": "NRS_BRIGHTOBJ",
                 "filter": "F290LP", "grating": "G395H", "subarray": "SUB2048"},
        "elements": [{"detector": "NRS1", "range": (2.87, 3.72), "n": 2048},
                     {"detector": "NRS2", "range": (3.82, 5.18), "n": 2048}],
    },
    "niriss_soss": {
        "meta": {"instrument": "NIRISS", "detector": "NIS", "exp_type": "NIS_SOSS",
                 "filter": "CLEAR", "pupil": "GR700XD", "subarray": "SUBSTRIP256"},
        "elements": [{"sporder": 1, "range": (0.85, 2.8), "n": 2048},
                     {"sporder": 2, "range": (0.6, 1.4), "n": 1783}],
    },
    "miri_lrs": {
        "meta": {"instrument": "MIRI", "detector": "MIRIMAGE", "exp_type": "MIR_LRS-SLITLESS",
                 "filter": "P750L", "subarray": "SLITLESSPRISM"},
        "elements": [{"range": (3.7, 14.0), "n": 388}],
    },
}

_DESCENDING_EXP_TYPES = ("NIS_SOSS", "MIR_LRS-SLITLESS")


@dataclass(frozen=True)
class Element:
    """Which spectrum of an exposure a set of spectra is.

    Attributes
    ----------
    sporder : int
        Spectral order (``SPORDER``); 1, 2 or 3 for NIRISS SOSS, 1 otherwise.
    detector : str or None
        Detector (``NRS1``/``NRS2`` for NIRSpec); None means the file's detector.
    """

    sporder: int = 1
    detector: str | None = None


# --------------------------------------------------------------------------- helpers


def make_mode_observation(
    mode: str,
    n_integrations: int = 100,
    *,
    n_wavelengths: int | None = None,
    seed: int = 42,
    meta: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> tuple[Observation, list[tuple[Element, Observation]]]:
    """A synthetic observation in one instrument mode, with its other orders/detectors.

    Parameters
    ----------
    mode : str
        A key of :data:`INSTRUMENT_MODES` (``"nirspec_prism"``, ``"nirspec_g395h"``,
        ``"niriss_soss"``, ``"miri_lrs"``).
    n_integrations : int
        Integrations in the exposure.
    n_wavelengths : int, optional
        Columns of the first element (others scaled in proportion); default as the
        instrument writes them.
    seed : int
        Noise seed of the first element; element ``k`` uses ``seed + k``.
    meta : mapping, optional
        Extra header metadata (target, program …).
    **kwargs
        Passed to :func:`~stamp_engine.synthetic.make_observation` (kind, snr, cadence_s …).

    Returns
    -------
    obs : Observation
        The first element (SOSS order 1, NIRSpec NRS1, …).
    extra : list of (Element, Observation)
        The other elements, sharing the integration times, ready for
        ``write_x1dints(..., extra_spectra=extra)``.
    """
    spec = INSTRUMENT_MODES[mode]
    # make_observation's defaults describe NIRSpec PRISM: a mode without a grating has none
    base_meta = {"grating": None, **spec["meta"], **(meta or {})}
    first_n = spec["elements"][0]["n"]
    out: list[tuple[Element, Observation]] = []
    for k, element in enumerate(spec["elements"]):
        n = element["n"] if n_wavelengths is None else max(2, round(n_wavelengths * element["n"] / first_n))
        obs = make_observation(
            n_integrations=n_integrations,
            wavelength=np.linspace(*element["range"], n),
            seed=seed + k,
            meta={**base_meta, "detector": element.get("detector", base_meta["detector"])},
            **kwargs,
        )
        out.append((Element(sporder=element.get("sporder", 1), detector=element.get("detector")), obs))
    return out[0][1], out[1:]


def stage2_filename(meta: Mapping[str, Any], segment: int, detector: str) -> str:
    """MAST name of a calwebb_spec2 product, e.g. ``jw09999001001_04101_00001-seg001_nrs1_x1dints.fits``."""
    return (
        f"jw{meta['program']}{meta['observation']}{meta.get('visit', '001')}_"
        f"{meta.get('visit_group', '04')}{meta.get('sequence', '1')}{meta.get('activity', '01')}_"
        f"{int(meta.get('exposure_number', 1)):05d}-seg{segment:03d}_{detector.lower()}_x1dints.fits"
    )


def stage3_filename(meta: Mapping[str, Any]) -> str:
    """MAST name of a calwebb_tso3 product, e.g. ``jw09999-o001_t001_nirspec_clear-prism_x1dints.fits``."""
    instrument = str(meta.get("instrument", "NIRSPEC")).upper()
    if instrument == "NIRSPEC":
        parts = [meta.get("filter"), meta.get("grating")]
    elif instrument == "MIRI":
        parts = [meta.get("filter"), meta.get("subarray")]
    else:
        parts = [meta.get("filter"), meta.get("pupil"), meta.get("subarray")]
    optical = "-".join(str(p).lower() for p in parts if p)
    return f"jw{meta['program']}-o{meta['observation']}_t001_{instrument.lower()}_{optical}_x1dints.fits"


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".")[:3] if p.isdigit())


def _timing(obs: Observation) -> dict[str, float]:
    """Read-pattern keywords consistent with the observation's cadence."""
    cadence_s = float(obs.truth.get("cadence_s", np.median(np.diff(obs.time_bjd_tdb)) * 86400.0
                                    if obs.n_integrations > 1 else 60.0))
    tframe = cadence_s / (NGROUPS + 1)  # NRESETS = 1, NFRAMES = 1: cadence = (NGROUPS + 1)·TFRAME
    return {"cadence_s": cadence_s, "tframe": tframe, "effinttm": NGROUPS * tframe}


def _iso(mjd: float) -> str:
    return Time(mjd, format="mjd", scale="utc").isot


# --------------------------------------------------------------------------- columns


def _spectral_columns(
    obs: Observation,
    rows: np.ndarray,
    *,
    descending: bool,
    flag_nan: bool,
    instrument: str,
    exp_type: str,
    width: int | None = None,
) -> dict[str, np.ndarray]:
    """The 18 spectral columns for some integrations, shape (n_rows, width)."""
    order = slice(None, None, -1) if descending else slice(None)
    n_wave = obs.wavelength.size
    flux = obs.flux[rows][:, order]
    error = obs.error[rows][:, order]
    wavelength = np.broadcast_to(obs.wavelength[order], flux.shape)
    missing = ~np.isfinite(flux)
    zeros = np.broadcast_to(np.float64(0.0), flux.shape)  # no memory for the all-zero columns
    soss = exp_type == "NIS_SOSS"
    variance = error**2
    npixels = np.where(missing, 0.0, 6.0)
    columns = {
        "WAVELENGTH": wavelength,
        "FLUX": flux,
        "FLUX_ERROR": error,
        # SOSS fills only WAVELENGTH, FLUX, FLUX_ERROR, DQ, BACKGROUND, NPIXELS
        "FLUX_VAR_POISSON": zeros if soss else 0.9 * variance,
        "FLUX_VAR_RNOISE": zeros if soss else 0.08 * variance,
        "FLUX_VAR_FLAT": zeros if soss else 0.02 * variance,
        "DQ": np.where(missing & flag_nan, DO_NOT_USE, 0).astype(np.uint32),
        "BACKGROUND": zeros,
        "BKGD_ERROR": zeros,
        "BKGD_VAR_POISSON": zeros,
        "BKGD_VAR_RNOISE": zeros,
        "BKGD_VAR_FLAT": zeros,
        "NPIXELS": npixels,
    }
    if instrument == "MIRI":  # MIRI LRS also reports a surface brightness; NIRSpec/SOSS write 0
        per_sr = 1e-6 / 2.35e-11  # Jy → MJy over a ~0.1 arcsec² pixel-ish solid angle
        columns["SURF_BRIGHT"] = flux * per_sr
        columns["SB_ERROR"] = error * per_sr
        columns["SB_VAR_POISSON"] = 0.9 * (error * per_sr) ** 2
        columns["SB_VAR_RNOISE"] = 0.08 * (error * per_sr) ** 2
        columns["SB_VAR_FLAT"] = 0.02 * (error * per_sr) ** 2
    else:
        for name in ("SURF_BRIGHT", "SB_ERROR", "SB_VAR_POISSON", "SB_VAR_RNOISE", "SB_VAR_FLAT"):
            columns[name] = zeros
    if width is not None and width > n_wave:
        # TSOMultiSpecModel pads shorter spectra: NaN values, DQ = DO_NOT_USE, NPIXELS 0
        padded = {}
        for name, values in columns.items():
            fill = DO_NOT_USE if name == "DQ" else (0.0 if name == "NPIXELS" else np.nan)
            out = np.full((flux.shape[0], width), fill, dtype=values.dtype)
            out[:, :n_wave] = values
            padded[name] = out
        columns = padded
    return {name: columns[name] for name, _ in SPECTRAL_COLUMNS}


def _units(flux_unit: str) -> dict[str, str | None]:
    squared = "Jy^2" if flux_unit == "Jy" else f"({flux_unit})^2" if "/" in flux_unit else f"{flux_unit}^2"
    return {
        name: flux_unit if unit == "flux" else squared if unit == "flux2" else unit
        for name, unit in SPECTRAL_COLUMNS
    }


_BIG_ENDIAN = {"D": ">f8", "J": ">i4", "B": "u1"}
_UINT32_TZERO = 2147483648


@dataclass(frozen=True)
class _Col:
    """One binary-table column: name, FITS type code, values, and its TUNIT / vector width."""

    name: str
    code: str  # "D", "J" (uint32 when ``unsigned``), "B", or "<n>A"
    values: Any
    unit: str | None = None
    width: int | None = None  # vector length; None for a scalar column
    unsigned: bool = False


@dataclass
class _Table:
    """A binary-table HDU ready to stream: its header and big-endian structured data."""

    header: fits.Header
    data: np.ndarray


def _column_dtype(col: _Col) -> tuple:
    base = f"S{col.code[:-1]}" if col.code.endswith("A") else _BIG_ENDIAN[col.code]
    return (col.name, base, (col.width,)) if col.width else (col.name, base)


def _table_header(extname: str, cols: Sequence[_Col], n_rows: int) -> fits.Header:
    """A BINTABLE header with the cards astropy would write for these columns."""
    row_bytes = sum(np.dtype([_column_dtype(c)]).itemsize for c in cols)
    cards = [
        ("XTENSION", "BINTABLE", "binary table extension"),
        ("BITPIX", 8, "array data type"),
        ("NAXIS", 2, "number of array dimensions"),
        ("NAXIS1", row_bytes, "length of dimension 1"),
        ("NAXIS2", n_rows, "length of dimension 2"),
        ("PCOUNT", 0, "number of group parameters"),
        ("GCOUNT", 1, "number of groups"),
        ("TFIELDS", len(cols), "number of table fields"),
    ]
    for i, c in enumerate(cols, start=1):
        cards.append((f"TTYPE{i}", c.name, ""))
        cards.append((f"TFORM{i}", f"{c.width}{c.code}" if c.width else c.code, ""))
        if c.unit:
            cards.append((f"TUNIT{i}", c.unit, ""))
        if c.unsigned:
            cards.append((f"TZERO{i}", _UINT32_TZERO, ""))
        if c.width and c.code != "B":
            cards.append((f"TDIM{i}", f"({c.width})", ""))
    cards.append(("EXTNAME", extname, "extension name"))
    return fits.Header(cards)


def _fill(data: np.ndarray, cols: Sequence[_Col]) -> None:
    for c in cols:
        values = c.values
        if c.unsigned:  # uint32 stored as int32 with TZERO = 2**31: flip the top bit
            values = (np.asarray(values, dtype=np.uint32) ^ np.uint32(_UINT32_TZERO)).view(np.int32)
        data[c.name] = values


def _table(extname: str, cols: Sequence[_Col], n_rows: int) -> _Table:
    """A binary table: ``cols`` values have ``n_rows`` rows (vector columns ``(n_rows, width)``)."""
    data = np.empty(n_rows, dtype=[_column_dtype(c) for c in cols])
    _fill(data, cols)
    header = _table_header(extname, cols, n_rows)
    if header["NAXIS1"] != data.dtype.itemsize:
        raise AssertionError("binary table row size does not match its header")
    return _Table(header, data)


def _spectral_cols(columns: Mapping[str, Any], units: Mapping[str, str | None], width: int | None) -> list[_Col]:
    return [
        _Col(name, "J" if name == "DQ" else "D", values, None if name == "DQ" else units[name], width,
             unsigned=name == "DQ")
        for name, values in columns.items()
    ]


def _card_images(cards: Iterable[tuple[str, Any, str]]) -> str:
    return "".join(fits.Card(key, value, comment).image for key, value, comment in cards)


def _header_string(header: fits.Header, extra: str = "") -> str:
    """The header as FITS bytes-to-be: its cards, ``extra`` card images, END, blank padding."""
    body = "".join(card.image for card in header.cards) + extra + "END".ljust(80)
    return body + " " * (-len(body) % 2880)


def _write_file(path: Path, hdus: Iterable[tuple[str, np.ndarray | None]]) -> None:
    """Stream HDUs (header string, data) to ``path`` with FITS block padding."""
    with open(path, "wb") as handle:
        for header, data in hdus:
            handle.write(header.encode("ascii"))
            if data is not None and data.nbytes:
                handle.write(memoryview(np.ascontiguousarray(data)).cast("B"))
                handle.write(b"\0" * (-data.nbytes % 2880))


def _time_values(obs: Observation, rows: np.ndarray, timing: Mapping[str, float]) -> dict[str, np.ndarray]:
    half = timing["effinttm"] / 2.0 / 86400.0
    tdb = obs.time_bjd_tdb[rows]
    utc = obs.time_mjd_utc[rows]
    return {
        "MJD-BEG": utc - half, "MJD-AVG": utc, "MJD-END": utc + half,
        "TDB-BEG": tdb - half, "TDB-MID": tdb, "TDB-END": tdb + half,
    }


_SLIT_NAMES = {"NIRSPEC": "S1600A1", "MIRI": "MIR_LRS-SLITLESS", "NIRCAM": "NRC_TSGRISM"}


def _set_spec_keywords(header: fits.Header, meta: Mapping[str, Any], sporder: int) -> None:
    instrument = str(meta.get("instrument", ""))
    if instrument in _SLIT_NAMES:
        header["SLTNAME"] = (_SLIT_NAMES[instrument], "Name of the slit")
    header["SPORDER"] = (sporder, "Spectral order number")
    header["DISPAXIS"] = (2 if instrument == "MIRI" else 1, "Dispersion direction")


# --------------------------------------------------------------------------- HDUs


def _int_times_table(obs: Observation, numbers: np.ndarray, filled: np.ndarray, timing: Mapping[str, float]) -> _Table:
    """INT_TIMES rows for ``numbers`` (1-based); rows where ``filled`` is False are all zero."""
    times = _time_values(obs, numbers - 1, timing)
    names = ("int_start_MJD_UTC", "int_mid_MJD_UTC", "int_end_MJD_UTC",
             "int_start_BJD_TDB", "int_mid_BJD_TDB", "int_end_BJD_TDB")
    cols = [_Col("integration_number", "J", np.where(filled, numbers, 0))]
    cols += [_Col(name, "D", np.where(filled, times[key], 0.0)) for name, key in zip(names, TIME_COLUMNS)]
    return _table("INT_TIMES", cols, numbers.size)


def _int_times_stripe_table(obs: Observation, numbers: np.ndarray, filled: np.ndarray,
                            timing: Mapping[str, float], n_stripes: int) -> _Table:
    """INT_TIMES_STRIPE: ``n_stripes`` rows per INT_TIMES row, stripe ``k`` the ``k``-th slice of the
    integration (so no stripe's mid-time is the integration's); zero rows where ``filled`` is False."""
    times = _time_values(obs, numbers - 1, timing)
    length = timing["effinttm"] / 86400.0 / n_stripes
    offset = np.tile((np.arange(n_stripes) + 0.5 - n_stripes / 2) * length, numbers.size)
    number = np.repeat(np.where(filled, numbers, 0), n_stripes)
    cols = [_Col("integration_number", "J", number),
            _Col("stripe_number", "J", np.tile(np.arange(1, n_stripes + 1), numbers.size))]
    for scale, mid in (("MJD_UTC", times["MJD-AVG"]), ("BJD_TDB", times["TDB-MID"])):
        stripe_mid = np.repeat(mid, n_stripes) + offset
        for edge, shift in (("start", -length / 2), ("mid", 0.0), ("end", length / 2)):
            cols.append(_Col(f"int_{edge}_{scale}", "D", np.where(number > 0, stripe_mid + shift, 0.0)))
    return _table("INT_TIMES_STRIPE", cols, number.size)


def _asdf_table(meta: Mapping[str, Any]) -> _Table:
    text = (
        "#ASDF 1.0.0\n#ASDF_STANDARD 1.5.0\n%YAML 1.1\n--- !core/asdf-1.1.0\n"
        f"meta: {{target: {{catalog_name: {meta.get('target', '')!r}}}, "
        f"instrument: {{name: {meta.get('instrument', '')!r}}}}}\n...\n"
    ).encode()
    data = np.frombuffer(text, dtype=np.uint8)[None, :]
    return _table("ASDF", [_Col("ASDF_METADATA", "B", data, width=data.shape[1])], 1)


def _hdrtab_table(name: str, numbers: np.ndarray, chunks: list[slice]) -> _Table:
    starts = np.array([numbers[c.start] for c in chunks])
    ends = np.array([numbers[c.stop - 1] for c in chunks])
    files = np.array([f"{name}-input{k + 1}".encode() for k in range(len(chunks))], dtype="S64")
    cols = [
        _Col("FILENAME", "64A", files),
        _Col("EXSEGNUM", "J", np.arange(1, len(chunks) + 1)),
        _Col("INTSTART", "J", starts),
        _Col("INTEND", "J", ends),
    ]
    return _table("HDRTAB", cols, len(chunks))


def _primary_header(
    obs: Observation,
    *,
    filename: str,
    detector: str,
    layout: str,
    cal_ver: str,
    segment: int,
    segment_total: int,
    int_start: int,
    int_end: int,
    timing: Mapping[str, float],
    flux_unit: str,
) -> fits.Header:
    meta = obs.meta
    utc = obs.time_mjd_utc
    half = timing["effinttm"] / 2.0 / 86400.0
    exp_start = float(utc[0] - half)
    exp_end = float(utc[-1] + half)
    program, observation = str(meta["program"]), str(meta["observation"])
    visit = str(meta.get("visit", "001"))
    h = fits.Header()
    h["DATE"] = ("2025-11-20T12:00:00.000", "UTC date file created")
    h["ORIGIN"] = ("STSCI", "Organization responsible for creating file")
    h["TIMESYS"] = ("UTC", "principal time system for time-related keywords")
    room = 80 - 13 - max(len(filename) + 2, 20)  # what the value leaves of the card for a comment
    h["FILENAME"] = (filename, "Name of the file"[: max(0, room)])
    h["SDP_VER"] = ("2025_3", "Data processing software version number")
    h["CAL_VER"] = (cal_ver, "Calibration software version number")
    h["CAL_VCS"] = ("RELEASE", "Calibration software version control sys number")
    h["DATAMODL"] = ("TSOMultiSpecModel" if layout == "new" else "MultiSpecModel", "Type of data model")
    h["TELESCOP"] = ("JWST", "Telescope used to acquire the data")
    h["TITLE"] = ("STAMP synthetic time series", "Proposal title")
    h["DATE-OBS"] = (_iso(exp_start)[:10], "[yyyy-mm-dd] UTC date at start of exposure")
    h["TIME-OBS"] = (_iso(exp_start)[11:], "[hh:mm:ss.sss] UTC time at start of exposure")
    h["DATE-BEG"] = (_iso(exp_start), "Date-time start of exposure")
    h["DATE-END"] = (_iso(exp_end), "Date-time end of exposure")
    h["VISIT_ID"] = (f"{program}{observation}{visit}", "Visit identifier")
    h["PROGRAM"] = (program, "Program number")
    h["OBSERVTN"] = (observation, "Observation number")
    h["VISIT"] = (visit, "Visit number")
    h["VISITGRP"] = (str(meta.get("visit_group", "04")), "Visit group identifier")
    h["SEQ_ID"] = (str(meta.get("sequence", "1")), "Parallel sequence identifier")
    h["ACT_ID"] = (str(meta.get("activity", "01")), "Activity identifier")
    h["EXPOSURE"] = (str(int(meta.get("exposure_number", 1))), "Exposure request number")
    h["TSOVISIT"] = (True, "Time Series Observation visit indicator")
    h["TARGPROP"] = (str(meta.get("target", "")), "Proposer's name for the target")
    h["TARGNAME"] = (str(meta.get("target", "")), "Standard astronomical catalog name for target")
    h["TARG_RA"] = (217.3266331624594, "Target RA at mid time of exposure")
    h["TARG_DEC"] = (-3.444499661995657, "Target Dec at mid time of exposure")
    h["INSTRUME"] = (str(meta.get("instrument", "NIRSPEC")), "Instrument used to acquire the data")
    h["DETECTOR"] = (detector, "Name of detector used to acquire the data")
    h["FILTER"] = (str(meta.get("filter", "CLEAR")), "Name of the filter element used")
    if meta.get("grating"):
        h["GRATING"] = (str(meta["grating"]), "Name of the grating element used")
    if meta.get("pupil"):
        h["PUPIL"] = (str(meta["pupil"]), "Name of the pupil element used")
    h["EXP_TYPE"] = (str(meta.get("exp_type", "NRS_BRIGHTOBJ")), "Type of data in the exposure")
    h["EXPSTART"] = (exp_start, "[d] exposure start time in MJD")
    h["EXPMID"] = ((exp_start + exp_end) / 2.0, "[d] exposure mid time in MJD")
    h["EXPEND"] = (exp_end, "[d] exposure end time in MJD")
    h["READPATT"] = ("NRSRAPID" if meta.get("instrument") == "NIRSPEC" else "FASTR1", "Readout pattern")
    h["EXSEGNUM"] = (segment, "Sequential segment number")
    h["EXSEGTOT"] = (segment_total, "Total number of segments")
    h["NINTS"] = (obs.n_integrations, "Number of integrations in exposure")
    h["INTSTART"] = (int_start, "Starting integration number in this segment")
    h["INTEND"] = (int_end, "Ending integration number in this segment")
    h["NGROUPS"] = (NGROUPS, "Number of groups in integration")
    h["NFRAMES"] = (1, "Number of frames per group")
    h["GROUPGAP"] = (0, "Number of frames dropped between groups")
    h["TFRAME"] = (timing["tframe"], "[s] Time between frames")
    h["TGROUP"] = (timing["tframe"], "[s] Time between groups")
    h["EFFINTTM"] = (timing["effinttm"], "[s] Effective integration time")
    h["NRESETS"] = (1, "Number of resets between integrations")
    if meta.get("subarray"):
        h["SUBARRAY"] = (str(meta["subarray"]), "Subarray used")
    # The header barycentric correction disagrees with INT_TIMES in real files (FORMATS §1.1)
    h["BARTDELT"] = (-237.95, "[s] Barycentric correction at exposure start")
    h["BSTRTIME"] = (exp_start - 237.95 / 86400.0, "[d] Barycentric exposure start time in MJD")
    h["S_PHOTOM"] = ("COMPLETE" if flux_unit == "Jy" else "SKIPPED", "Photometric Calibration")
    h["S_EXTR1D"] = ("COMPLETE", "Spectral Extraction")
    return h


# --------------------------------------------------------------------------- writer


def _as_rows(rows: slice | Sequence[int] | np.ndarray | None, n: int) -> np.ndarray:
    if rows is None:
        return np.arange(n)
    if isinstance(rows, slice):
        return np.arange(n)[rows]
    rows = np.asarray(rows, dtype=int)
    if rows.size and (rows.min() < 0 or rows.max() >= n):
        raise ValueError(f"rows must index the {n} integrations of the observation")
    return rows


def _elements(
    obs: Observation,
    sporder: int,
    detector: str,
    extra_spectra: Iterable[tuple[Element | Mapping[str, Any], Observation]],
) -> list[tuple[Element, Observation]]:
    elements = [(Element(sporder=sporder, detector=detector), obs)]
    for spec, extra in extra_spectra:
        if not isinstance(spec, Element):
            spec = Element(**dict(spec))
        if extra.n_integrations != obs.n_integrations:
            raise ValueError("every extra spectrum needs as many integrations as the observation")
        elements.append((Element(spec.sporder, spec.detector or detector), extra))
    return elements


def write_x1dints(
    path: str | Path,
    obs: Observation,
    *,
    layout: str = "new",
    rows: slice | Sequence[int] | np.ndarray | None = None,
    segment: int = 1,
    segment_total: int = 1,
    stage: int = 2,
    input_segments: int | None = None,
    int_times: str = "segment",
    descending: bool | None = None,
    cal_ver: str | None = None,
    detector: str | None = None,
    sporder: int = 1,
    extra_spectra: Iterable[tuple[Element | Mapping[str, Any], Observation]] = (),
    element_order: str = "auto",
    nan_time_columns: bool = False,
    local_int_num: bool = False,
    time_keywords: bool = True,
    pad: bool = True,
    flux_unit: str | None = None,
    stray_sci: bool = False,
    hdrtab: bool = False,
    int_times_stripe: int = 0,
    lone_keywords: bool = True,
    filename: str | None = None,
) -> Path:
    """Write (part of) an observation as a JWST ``x1dints`` file.

    Parameters
    ----------
    path : str or Path
        Output file (overwritten).
    obs : Observation
        The exposure; integration ``k`` (0-based row of ``obs``) gets the exposure-global
        ``INT_NUM`` ``k + 1`` and ``NINTS = obs.n_integrations``.
    layout : {"new", "old"}
        ``"new"``: TSOMultiSpecModel (jwst >= 1.19); ``"old"``: MultiSpecModel (jwst < 1.19).
    rows : slice or array of int, optional
        Integrations (rows of ``obs``) in this file; default all.
    segment, segment_total : int
        ``EXSEGNUM`` / ``EXSEGTOT`` of this file.  ``INTSTART``/``INTEND`` come from ``rows``.
    stage : {2, 3}
        Stage 3 (calwebb_tso3) files hold several input segments: ``INT_TIMES`` gets all
        ``NINTS`` rows (zero rows for integrations not in the file) and, for jwst < 3.0,
        the primary ``EXSEGNUM``/``INTSTART``/``INTEND`` describe the first input segment only.
    input_segments : int, optional
        Stage 3: how many input segments ``rows`` came from (new layout: one EXTRACT1D per
        segment and element, ``SEGMENT`` column set).  Default ``segment_total``.
    int_times : {"segment", "all", "none", "short", "elsewhere"}
        ``INT_TIMES`` rows: this file's integrations; all ``NINTS`` (early simulations; stage 3
        always); no ``INT_TIMES`` HDU (INT_NUM then counts within the file and no time is
        written, as the pipeline does); only the first half of this file's integrations;
        or only integrations *before* this file's (the earlier segments' rows: an INT_TIMES
        that does not cover the segment).  Time keywords/columns are written only where
        INT_TIMES has them.
    descending : bool, optional
        Store wavelengths descending; default as the instrument does (SOSS, MIRI LRS).
    cal_ver : str, optional
        ``CAL_VER``; default ``"1.18.1"`` (old) / ``"1.19.1"`` (new).  From 1.17 on
        NaN flux gets ``DQ = 1`` (DO_NOT_USE), before it 0.
    detector : str, optional
        Primary ``DETECTOR``; default ``obs.meta["detector"]``.
    sporder : int
        ``SPORDER`` of ``obs`` itself.
    extra_spectra : iterable of (Element or mapping, Observation)
        Further spectra of the same integrations: SOSS orders (``Element(sporder=2)``) or the
        second NIRSpec detector of a stage-3 file (``Element(detector="NRS2")``).
    element_order : {"auto", "interleaved", "grouped"}
        Old layout HDU order: ``"interleaved"`` (int 1 order 1, int 1 order 2, …, as SOSS),
        ``"grouped"`` (all of element 1, then element 2, as tso3 appends detectors).
        ``"auto"``: interleaved when the elements differ by order, else grouped.
    nan_time_columns : bool
        New layout: write the six time columns as NaN and ``INT_NUM = 1..n`` within the
        file, as extract_1d does when INT_TIMES does not cover the segment.
    local_int_num : bool
        ``INT_NUM = 1..n`` counted within the file while the primary ``INTSTART`` stays
        exposure-global (1.18 SOSS writes this when INT_TIMES does not cover the segment);
        both layouts.
    time_keywords : bool
        Old layout: write the per-integration ``MJD-*``/``TDB-*`` keywords.
    pad : bool
        New layout: pad every table to the longest element of the file (NaN, ``DQ = 1``,
        ``N_ALONGDISP`` = valid length).
    flux_unit : str, optional
        ``TUNIT`` of FLUX; default ``obs.flux_unit`` (``"Jy"``; ``"DN/s"`` without photom).
    stray_sci, hdrtab : bool
        Add a header-only ``SCI`` HDU before ``INT_TIMES`` / an ``HDRTAB`` table before
        ``ASDF``, so readers must select HDUs by ``EXTNAME``.
    int_times_stripe : int
        NIRISS SOSS superstripes per integration (jwst >= 3.0): when > 0, an ``INT_TIMES_STRIPE``
        table follows ``INT_TIMES`` with that many rows per integration (``integration_number``
        repeated, ``stripe_number`` 1..n, each stripe's own times, as
        ``jwst.superstripe`` writes it); readers must take the times from ``INT_TIMES``.
    lone_keywords : bool
        New layout: a one-integration segment's plain table carries ``INT_NUM`` and the time
        keywords in its header; False writes the bare ``SpecModel`` table (no INT_NUM, no time),
        so its integration number must come from the file's other tables or ``INTSTART``.
    filename : str, optional
        ``FILENAME`` keyword; default the output file name.

    Returns
    -------
    Path
        The file written.
    """
    if layout not in ("new", "old"):
        raise ValueError(f"layout must be 'new' or 'old', not {layout!r}")
    if int_times not in ("segment", "all", "none", "short", "elsewhere"):
        raise ValueError(f"int_times must be 'segment', 'all', 'none', 'short' or 'elsewhere', not {int_times!r}")
    path = Path(path)
    meta = obs.meta
    rows = _as_rows(rows, obs.n_integrations)
    if rows.size == 0:
        raise ValueError("a file needs at least one integration")
    cal_ver = cal_ver or ("1.19.1" if layout == "new" else "1.18.1")
    version = _version_tuple(cal_ver)
    detector = detector or str(meta.get("detector", "NRS1"))
    flux_unit = flux_unit or obs.flux_unit
    exp_type = str(meta.get("exp_type", ""))
    instrument = str(meta.get("instrument", ""))
    if descending is None:
        descending = exp_type in _DESCENDING_EXP_TYPES
    elements = _elements(obs, sporder, detector, extra_spectra)
    timing = _timing(obs)
    units = _units(flux_unit)
    numbers = rows + 1  # exposure-global INT_NUM

    input_segments = input_segments or segment_total
    if stage == 3:
        chunks = [c for c in _segment_chunks(rows.size, input_segments) if c.stop > c.start]
    else:
        chunks = [slice(0, rows.size)]

    # INT_TIMES and which of this file's integrations it covers
    if int_times == "none":
        covered = np.zeros(rows.size, dtype=bool)
        int_times_hdu = None
    else:
        if int_times == "all" or stage == 3:
            listed = np.arange(1, obs.n_integrations + 1)
            filled = np.isin(listed, numbers) if stage == 3 else np.ones(listed.size, dtype=bool)
        elif int_times == "short":
            listed = numbers[: max(1, rows.size // 2)]
            filled = np.ones(listed.size, dtype=bool)
        elif int_times == "elsewhere":
            listed = np.arange(1, int(numbers.min()))
            if listed.size == 0:
                raise ValueError("int_times='elsewhere' needs a file that does not start at integration 1")
            filled = np.ones(listed.size, dtype=bool)
        else:
            listed = numbers
            filled = np.ones(listed.size, dtype=bool)
        int_times_hdu = _int_times_table(obs, listed, filled, timing)
        covered = np.isin(numbers, listed[filled])

    if stage == 3 and version < (3, 0):
        first = chunks[0]
        seg_num, int_start, int_end = 1, int(numbers[first.start]), int(numbers[first.stop - 1])
    else:
        seg_num, int_start, int_end = segment, int(numbers.min()), int(numbers.max())

    primary = fits.PrimaryHDU(header=_primary_header(
        obs, filename=filename or path.name, detector=detector, layout=layout, cal_ver=cal_ver,
        segment=seg_num, segment_total=segment_total, int_start=int_start, int_end=int_end,
        timing=timing, flux_unit=flux_unit,
    ))
    hdus: list[tuple[str, np.ndarray | None]] = [(_header_string(primary.header), None)]
    if stray_sci:
        sci = fits.ImageHDU(name="SCI").header
        sci["SRCTYPE"] = ("POINT", "Source type used for calibration")
        hdus.append((_header_string(sci), None))
    if int_times_hdu is not None:
        hdus.append((_header_string(int_times_hdu.header), int_times_hdu.data))
        if int_times_stripe > 0:
            stripes = _int_times_stripe_table(obs, listed, filled, timing, int_times_stripe)
            hdus.append((_header_string(stripes.header), stripes.data))

    flag_nan = version >= (1, 17)
    width = max(o.wavelength.size for _, o in elements) if (pad and layout == "new") else None
    tables = [
        _spectral_columns(o, rows, descending=descending, flag_nan=flag_nan, instrument=instrument,
                          exp_type=exp_type, width=width)
        for _, o in elements
    ]
    times = _time_values(obs, rows, timing)
    if layout == "new":
        hdus += _new_layout_tables(elements, tables, units, numbers, times, covered, chunks, segment,
                                   stage, nan_time_columns, local_int_num, lone_keywords, meta)
    else:
        if element_order == "auto":
            by_order = len({e.sporder for e, _ in elements}) > 1
            element_order = "interleaved" if by_order else "grouped"
        hdus += _old_layout_tables(elements, tables, units, numbers, times, covered,
                                   int_times == "none" or local_int_num, time_keywords, element_order, meta)
    for extra in ([_hdrtab_table(path.name, numbers, chunks)] if hdrtab else []) + [_asdf_table(meta)]:
        hdus.append((_header_string(extra.header), extra.data))
    _write_file(path, hdus)
    return path


def _segment_chunks(n: int, n_segments: int) -> list[slice]:
    """Split ``n`` integrations into segments of equal size, the last one shorter."""
    size = math.ceil(n / max(1, n_segments))
    return [slice(i * size, min(n, (i + 1) * size)) for i in range(max(1, n_segments))]


def _time_cards(times: Mapping[str, np.ndarray], i: int) -> list[tuple[str, float, str]]:
    comments = {
        "MJD-BEG": "[d] integration start time in MJD", "MJD-AVG": "[d] integration mid-point in MJD",
        "MJD-END": "[d] integration end time in MJD", "TDB-BEG": "TDB at start of integration [MJD]",
        "TDB-MID": "TDB at middle of integration [MJD]", "TDB-END": "TDB at end of integration [MJD]",
    }
    return [(key, float(times[key][i]), comments[key]) for key in TIME_COLUMNS]


def _new_layout_tables(elements, tables, units, numbers, times, covered, chunks, segment, stage,
                       nan_time_columns, local_int_num, lone_keywords, meta) -> list[tuple[str, np.ndarray]]:
    """One EXTRACT1D per (segment, element), one row per integration (TSOMultiSpecModel)."""
    hdus = []
    extver = 0
    for (element, obs_el), columns in zip(elements, tables):
        valid = obs_el.wavelength.size
        for c, chunk in enumerate(chunks):
            seg = c + 1 if stage == 3 else segment
            part = {name: values[chunk] for name, values in columns.items()}
            n_rows = chunk.stop - chunk.start
            extra_cards: list[tuple[str, Any, str]] = []
            if n_rows == 1:
                # extract.py appends a lone spectrum as a plain SpecModel table (rows = wavelengths)
                cols = _spectral_cols({name: v[0, :valid] for name, v in part.items()}, units, None)
                table = _table("EXTRACT1D", cols, valid)
                if lone_keywords:
                    extra_cards.append(("INT_NUM", 1 if local_int_num else int(numbers[chunk.start]),
                                        "Integration number"))
                    if covered[chunk.start]:
                        extra_cards += _time_cards(times, chunk.start)
            else:
                int_num = np.arange(1, n_rows + 1) if local_int_num else numbers[chunk]
                seg_times = {key: np.where(covered[chunk], v[chunk], np.nan) for key, v in times.items()}
                if nan_time_columns:
                    int_num = np.arange(1, n_rows + 1)
                    seg_times = {key: np.full(n_rows, np.nan) for key in TIME_COLUMNS}
                width = next(iter(part.values())).shape[1]
                cols = [_Col("INT_NUM", "J", int_num)]
                cols += _spectral_cols(part, units, width)
                cols.append(_Col("N_ALONGDISP", "J", np.full(n_rows, valid), unsigned=True))
                cols.append(_Col("SEGMENT", "J", np.full(n_rows, seg)))
                cols += [_Col(key, "D", seg_times[key], unit="d") for key in TIME_COLUMNS]
                table = _table("EXTRACT1D", cols, n_rows)
            _set_spec_keywords(table.header, meta, element.sporder)
            table.header["DETECTOR"] = (element.detector, "Name of detector used to acquire the data")
            extver += 1
            table.header["EXTVER"] = (extver, "extension value")
            hdus.append((_header_string(table.header, _card_images(extra_cards)), table.data))
    return hdus


def _old_layout_tables(elements, tables, units, numbers, times, covered, local_int_num, time_keywords,
                       element_order, meta) -> list[tuple[str, np.ndarray]]:
    """One EXTRACT1D per integration and element (MultiSpecModel), INT_NUM/times in the header."""
    n = numbers.size
    int_num = np.arange(1, n + 1) if local_int_num else numbers  # 1.18 counts within the file
    # All integrations of an element as one (n, n_wave) structured array: HDU i is row i.
    blocks, templates = [], []
    for (element, obs_el), columns in zip(elements, tables):
        cols = _spectral_cols(columns, units, None)
        data = np.empty((n, obs_el.wavelength.size), dtype=[_column_dtype(c) for c in cols])
        _fill(data, cols)
        header = _table_header("EXTRACT1D", cols, obs_el.wavelength.size)
        _set_spec_keywords(header, meta, element.sporder)
        blocks.append(data)
        templates.append(header)
    if element_order == "interleaved":
        order = [(i, k) for i in range(n) for k in range(len(elements))]
    else:
        order = [(i, k) for k in range(len(elements)) for i in range(n)]
    hdus = []
    for extver, (i, k) in enumerate(order, start=1):
        cards: list[tuple[str, Any, str]] = [("INT_NUM", int(int_num[i]), "Integration number")]
        if time_keywords and covered[i]:
            cards += _time_cards(times, i)
        header = templates[k]
        header["EXTVER"] = (extver, "extension value")
        hdus.append((_header_string(header, _card_images(cards)), blocks[k][i]))
    return hdus


def write_segments(
    directory: str | Path,
    obs: Observation,
    n_segments: int = 1,
    *,
    layout: str = "new",
    stage: int = 2,
    extra_spectra: Iterable[tuple[Element | Mapping[str, Any], Observation]] = (),
    split_visits: bool = True,
    **kwargs: Any,
) -> list[Path]:
    """Write an observation as the pipeline would deliver it, with MAST file names.

    Stage 2: one file per segment (``-seg001``…, the last one shorter) and per detector —
    extra spectra on another detector (NIRSpec NRS2) go to their own files, SOSS orders stay
    in the file of their segment.  Stage 3: one file holding every segment and element.
    With several visits in ``obs`` (and ``split_visits``), each visit is a separate
    exposure with its own observation number (``meta["observation"]`` + visit index).

    Parameters
    ----------
    directory : str or Path
        Created if needed.
    obs : Observation
    n_segments : int
        Segments of each exposure (``EXSEGTOT``).
    layout : {"new", "old"}
    stage : {2, 3}
    extra_spectra : iterable of (Element or mapping, Observation)
        As for :func:`write_x1dints`.
    split_visits : bool
        Write each visit of ``obs`` as its own exposure.
    **kwargs
        Passed to :func:`write_x1dints` (``int_times``, ``cal_ver``, ``descending`` …).

    Returns
    -------
    list of Path
        The files, in exposure/segment/detector order.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    extra = [(s if isinstance(s, Element) else Element(**dict(s)), o) for s, o in extra_spectra]
    visits = np.unique(obs.visit) if split_visits else np.array([0])
    paths: list[Path] = []
    for v_index, v in enumerate(visits):
        if split_visits and visits.size > 1:
            keep = np.flatnonzero(obs.visit == v)
            observation = f"{int(obs.meta['observation']) + v_index:03d}"
            exposure_obs = _with_meta(obs.take(keep), observation=observation)
            exposure_extra = [(s, _with_meta(o.take(keep), observation=observation)) for s, o in extra]
        else:
            exposure_obs, exposure_extra = obs, extra
        paths += _write_exposure(directory, exposure_obs, n_segments, layout, stage, exposure_extra, kwargs)
    return paths


def _with_meta(obs: Observation, **changes: Any) -> Observation:
    return Observation(obs.wavelength, obs.time_bjd_tdb, obs.flux, obs.error, obs.model, obs.visit,
                       obs.flux_unit, obs.truth, {**obs.meta, **changes})


def _write_exposure(directory, obs, n_segments, layout, stage, extra, kwargs) -> list[Path]:
    kwargs = dict(kwargs)
    detector = kwargs.pop("detector", None) or str(obs.meta.get("detector", "NRS1"))
    if stage == 3:
        path = directory / stage3_filename(obs.meta)
        write_x1dints(path, obs, layout=layout, stage=3, segment_total=n_segments,
                      input_segments=n_segments, detector=detector, extra_spectra=extra, **kwargs)
        return [path]
    same_file = [(s, o) for s, o in extra if s.detector in (None, detector)]
    by_detector: dict[str, list[tuple[Element, Observation]]] = {}
    for s, o in extra:
        if s.detector not in (None, detector):
            by_detector.setdefault(s.detector, []).append((s, o))
    paths = []
    for det, main, others, sporder in [(detector, obs, same_file, 1)] + [
        (det, items[0][1], items[1:], items[0][0].sporder) for det, items in by_detector.items()
    ]:
        for s, chunk in enumerate(_segment_chunks(obs.n_integrations, n_segments)):
            path = directory / stage2_filename(obs.meta, s + 1, det)
            write_x1dints(path, main, layout=layout, rows=chunk, segment=s + 1, segment_total=n_segments,
                          stage=2, detector=det, sporder=sporder, extra_spectra=others, **kwargs)
            paths.append(path)
    return paths


def write_reductions(
    directory: str | Path,
    obs: Observation,
    reductions: Sequence[Mapping[str, Any]] = ({"layout": "old", "cal_ver": "1.18.1"},
                                               {"layout": "new", "cal_ver": "1.19.1"}),
    n_segments: int = 1,
    *,
    noise: float = 0.2,
    seed: int = 0,
    **kwargs: Any,
) -> list[tuple[Observation, list[Path]]]:
    """The same exposure reduced several times (pipeline versions, layouts, stages), as users upload them.

    Each reduction is written by :func:`write_segments` into its own sub-folder (their MAST
    names are the same).  A re-extraction gives slightly different values for the same
    integrations: reduction ``k > 0`` adds ``noise`` × the error of Gaussian noise to the
    flux, so a reader that mixes reductions can be caught.

    Parameters
    ----------
    directory : str or Path
    obs : Observation
        The first reduction's values exactly.
    reductions : sequence of mappings
        Per reduction, :func:`write_segments` keywords (``layout``, ``cal_ver``, ``stage``,
        ``int_times`` …), plus ``"n_segments"`` and ``"meta"`` (header changes, e.g. another
        ``exposure_number`` so that the exposure keys differ).
    n_segments : int
        Default segments per reduction.
    noise : float
        Extra noise of the later reductions, in units of the flux error.
    seed : int
    **kwargs
        Passed to every :func:`write_segments` call.

    Returns
    -------
    list of (Observation, list of Path)
        Each reduction's values and files, in the order of ``reductions``.
    """
    directory = Path(directory)
    rng = np.random.default_rng(seed)
    written = []
    for k, spec in enumerate(reductions):
        spec = dict(spec)
        segments = int(spec.pop("n_segments", n_segments))
        version = obs if k == 0 else Observation(
            obs.wavelength, obs.time_bjd_tdb, obs.flux + noise * obs.error * rng.standard_normal(obs.flux.shape),
            obs.error, obs.model, obs.visit, obs.flux_unit, obs.truth, obs.meta)
        version = _with_meta(version, **dict(spec.pop("meta", {})))
        label = f"reduction{k + 1}_{spec.get('layout', 'new')}_{spec.get('cal_ver', 'default')}"
        paths = write_segments(directory / label, version, segments, **{**kwargs, **spec})
        written.append((version, paths))
    return written
