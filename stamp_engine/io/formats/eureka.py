"""Eureka! HDF5 products (S3/S4 ``SpecData``, S4 ``LCData``) and flat HDF5 exports.

Eureka writes through xarray/h5netcdf (FORMATS.md §6): every variable is a root
dataset, dimensions are HDF5 dimension scales, booleans are ``int8`` with
``dtype='bool'``, units live in ``flux_units``/``time_units``/``wave_units``
attributes.  The traps handled here:

* S3 arrays are ``(time, x)`` but S4 light curves are ``(wavelength, time)``;
* ``opterr`` is a 1-σ error but ``stdvar`` a variance;
* ``time_units='BJD_TDB'`` on MJD-like numbers (Eureka < ~0.5), full Julian dates
  (HST WFC3), and files with no units at all;
* ``wave_1d`` may hold NaN where the WCS is undefined;
* NIRISS SOSS: a trailing ``order`` dimension, or a single order kept as a
  scalar ``/order`` coordinate;
* the flat keys of the original STAMP reader (FORMATS.md §7), which carry no units.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import astropy.units as u
import h5py
import numpy as np

from ...problems import ReadError
from ...settings import env_value_or_default
from ..block import SpectralBlock
from ..containers import ArchiveLimits, parse_size
from ..registry import HDF5_MAGIC, register_reader

#: Flux datasets in order of preference: Eureka's optimal spectrum, the flux-calibrated
#: export of the original STAMP, Eureka's box spectrum, a generic name.
FLUX_KEYS = ("optspec", "calibrated_optspec", "stdspec", "flux")
#: Error dataset that belongs to each flux dataset, tried before the generic names.
PAIRED_ERROR_KEYS = {
    "optspec": ("opterr",),
    "calibrated_optspec": ("calibrated_opterr",),
    "stdspec": ("stdvar",),
}
GENERIC_ERROR_KEYS = ("error", "flux_error", "sigma")
#: Error datasets that hold a variance, not a standard deviation.
VARIANCE_KEYS = frozenset({"stdvar"})
WAVELENGTH_KEYS = ("wave_1d", "eureka_wave_1d", "wavelength", "wave")
TIME_KEYS = ("time", "bmjd", "mjd", "bjd", "time_bjd", "time_mjd")
MASK_KEYS = ("optmask", "mask")
PHOTOMETRY_KEYS = ("aplev", "aperr")

#: Offset between a Julian Date and an MJD-style number.
JD_MINUS_MJD = 2400000.5
#: Times above this are full Julian Dates (JD 2400000 is 1858), not MJD-style numbers.
FULL_JD_THRESHOLD = 2.4e6
#: MJD-style dates of any plausible observation are above this (MJD 10000 is 1886).
MJD_LIKE_THRESHOLD = 1.0e4

#: Default of ``STAMP_HDF5_MAX_BYTES``: most bytes one compressed dataset may declare.
HDF5_MAX_BYTES = 4 * 1024**3

#: HDF5 files may start with a user block of 512·2ⁿ bytes before the superblock.
_SUPERBLOCK_OFFSETS = (0, 512, 1024, 2048)

_WAVE_UNIT_ALIASES = {"microns": "micron", "micrometers": "micron", "um": "micron", "µm": "micron",
                      "angstroms": "Angstrom", "angstrom": "Angstrom", "nanometers": "nm"}


# ---------------------------------------------------------------------------
# identification


def _is_hdf5(head: bytes) -> bool:
    return any(head[offset:offset + len(HDF5_MAGIC)] == HDF5_MAGIC for offset in _SUPERBLOCK_OFFSETS)


def identify(path: Path, head: bytes) -> bool:
    """True for an HDF5 file holding Eureka!-like datasets (or one too damaged to open).

    A damaged HDF5 file is claimed so that the user hears it is damaged rather
    than that it is an unknown format.
    """
    if not _is_hdf5(head):
        return False
    try:
        with h5py.File(path, "r") as h5:
            keys = set(h5.keys())
            eureka = _text(h5.attrs.get("data_format")) == "eureka"
    except OSError:
        return True
    return eureka or bool(keys & {*FLUX_KEYS, *WAVELENGTH_KEYS, *PHOTOMETRY_KEYS, "data"})


# ---------------------------------------------------------------------------
# small helpers


def _text(value: Any) -> str | None:
    """An attribute as a plain string; None for absent, empty or ``'None'`` values."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        if value.size != 1:
            return None
        value = value.reshape(-1)[0]
    if isinstance(value, (bytes, np.bytes_)):
        value = value.decode("utf-8", "replace")
    text = str(value).strip()
    return None if text in ("", "None", "none", "null") else text


def _first_present(keys: set[str], candidates: tuple[str, ...]) -> str | None:
    return next((k for k in candidates if k in keys), None)


def _dim_names(dataset: h5py.Dataset) -> tuple[str | None, ...] | None:
    """Names of the dimension scales attached to each axis, or None without any."""
    if "DIMENSION_LIST" not in dataset.attrs:
        return None
    try:
        names = tuple(dim[0].name.rsplit("/", 1)[-1] if len(dim) else None for dim in dataset.dims)
    except (RuntimeError, ValueError, KeyError, OSError):
        return None
    return names if any(names) else None


def declared_size_problem(dataset: h5py.Dataset, file_size: int, max_bytes: int, max_ratio: float) -> str | None:
    """Why a dataset must not be read, judged from its declared shape × dtype alone, or None.

    Uncompressed data cannot exceed the file that holds it (a dataset with nothing stored
    reads as gigabytes of fill values); compressed data must stay under ``max_bytes`` and
    expand at most ``max_ratio`` times what is stored (the archive guard's ratio).
    """
    declared = int(np.prod(dataset.shape, dtype=np.float64)) * dataset.dtype.itemsize if dataset.shape else \
        dataset.dtype.itemsize
    what = f"declares a {' × '.join(map(str, dataset.shape)) or 'scalar'} {dataset.dtype} dataset " \
           f"{dataset.name.lstrip('/')!r} ({declared:,} bytes)"
    try:
        filtered = dataset.id.get_create_plist().get_nfilters() > 0
        stored = dataset.id.get_storage_size()
    except (RuntimeError, ValueError, OSError):
        filtered, stored = True, 0
    if not filtered and declared > file_size:
        return f"{what} but the whole file has {file_size:,} bytes: a corrupt or crafted file; it was not read"
    if filtered and declared > max_bytes:
        return (f"{what}, more than the {max_bytes:,} bytes a compressed dataset may expand to "
                "(STAMP_HDF5_MAX_BYTES); it was not read")
    if filtered and declared > max_ratio * max(stored, 1) and declared > 1 << 20:
        return (f"{what} from {stored:,} stored bytes, a compression ratio above {max_ratio:,.0f} "
                "(STAMP_ZIP_MAX_RATIO): a compression bomb; it was not read")
    return None


def _read_checked(dataset: h5py.Dataset) -> np.ndarray:
    """``dataset[()]``, once its declared size is known to fit the file and the configured ceilings."""
    reason = declared_size_problem(
        dataset, Path(dataset.file.filename).stat().st_size,
        env_value_or_default(os.environ, "STAMP_HDF5_MAX_BYTES", parse_size, HDF5_MAX_BYTES, positive=True),
        ArchiveLimits.from_env().max_ratio,
    )
    if reason:
        raise ReadError(reason)
    return dataset[()]


def _float_array(dataset: h5py.Dataset) -> np.ndarray:
    """The dataset as read (dtype and byte order kept), with a non-NaN _FillValue made NaN."""
    values = _read_checked(dataset)
    values = np.asarray(values)
    if values.dtype.kind not in "fiu":
        raise ReadError(f"has a non-numeric {dataset.name.lstrip('/')!r} dataset ({values.dtype})")
    fill = dataset.attrs.get("_FillValue")
    if fill is not None and values.dtype.kind == "f":
        fill_value = np.asarray(fill).reshape(-1)
        if fill_value.size == 1 and np.isfinite(fill_value[0]):
            values = np.where(values == fill_value[0], np.nan, values)
    return values


def _attr_from(datasets: list[h5py.Dataset | None], root: h5py.AttributeManager, name: str) -> str | None:
    for dataset in datasets:
        if dataset is not None:
            value = _text(dataset.attrs.get(name))
            if value is not None:
                return value
    return _text(root.get(name))


def _describe_found(keys: set[str]) -> str:
    shown = sorted(keys)
    if len(shown) > 20:
        return ", ".join(shown[:20]) + f" … ({len(shown)} datasets)"
    return ", ".join(shown) or "nothing"


# ---------------------------------------------------------------------------
# units and times


def flux_unit_from_text(text: str | None) -> tuple[u.UnitBase, bool, str | None]:
    """Astropy unit for a Eureka ``flux_units`` string.

    Returns
    -------
    unit, assumed, note
        ``assumed`` is True (and ``unit`` dimensionless) when the file does not say
        or says something astropy does not understand; ``note`` explains it.
    """
    if text is None:
        return (u.dimensionless_unscaled, True,
                "the file does not record flux units: values are shown without a unit")
    cleaned = re.sub(r"(?i)electrons?", "electron", text)
    if text.isupper():  # "ELECTRONS/S", "DN/S": upper-case S is a second here, not a siemens
        cleaned = cleaned.replace("/S", "/s")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", u.UnitsWarning)  # "W/m2/um": several slashes are fine here
            unit = u.Unit(cleaned, parse_strict="raise")
    except (ValueError, TypeError):
        return (u.dimensionless_unscaled, True,
                f"flux_units {text!r} is not a unit STAMP understands: values are shown without a unit")
    return unit, False, None


def wavelength_to_micron(values: np.ndarray, text: str | None) -> tuple[np.ndarray, str | None]:
    """Wavelengths converted to µm from their ``wave_units``; a note when units are missing."""
    if text is None:
        return values, "the file does not record wavelength units: read as µm"
    try:
        unit = u.Unit(_WAVE_UNIT_ALIASES.get(text.strip().lower(), text.strip()), parse_strict="raise")
        factor = unit.to(u.micron)
    except (ValueError, TypeError, u.UnitConversionError):
        return values, f"wave_units {text!r} is not a length unit STAMP understands: read as µm"
    return (values if factor == 1.0 else values * factor), None


def _normalise_time_label(text: str | None) -> str | None:
    if text is None:
        return None
    return text.strip().upper().replace("-", "_").replace(" ", "_")


def interpret_time(values: np.ndarray, units: str | None, key: str) -> tuple[np.ndarray, str, list[str]]:
    """Mid-integration times as MJD-style numbers, their standard, and notes.

    Parameters
    ----------
    values : ndarray
        The stored times.
    units : str or None
        The ``time_units`` attribute.
    key : str
        Name of the time dataset (quoted in notes).

    Returns
    -------
    time_mjd, time_standard, notes
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise ReadError(f"holds no integrations ({key!r} is empty)")
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise ReadError(f"has no usable times ({key!r} is all NaN)")
    typical = float(np.median(finite))
    full_jd = typical > FULL_JD_THRESHOLD
    time_mjd = values - JD_MINUS_MJD if full_jd else values
    label = _normalise_time_label(units)
    notes: list[str] = []
    jd_note = (f"times are full Julian Dates (~{typical:.1f}): converted to MJD-style numbers "
               f"by subtracting {JD_MINUS_MJD}")

    if label in ("BMJD_TDB", "BMJD", "MJD_TDB", "BJD_TDB", "BJD", "TDB"):
        standard = "BJD_TDB"
        if full_jd:
            notes.append(jd_note)
        elif label in ("BJD_TDB", "BJD") and typical > MJD_LIKE_THRESHOLD:
            day = int(np.floor(typical))
            notes.append(f"time_units says {units} but values are MJD-like (~{day}): read as BMJD_TDB")
    elif label in ("HJD_UTC", "HJD", "HMJD_UTC"):
        standard = "HJD_UTC"
        if full_jd:
            notes.append(jd_note)
    elif label in ("MJD_UTC", "MJD", "UTC"):
        standard = "MJD_UTC"
        if full_jd:
            notes.append(jd_note)
    else:
        standard = "BJD_TDB (assumed)"
        said = f"time_units {units!r} is not a time standard STAMP knows" if label else \
            f"the file does not say which time standard {key!r} uses"
        how = "full Julian Dates, converted to MJD-style" if full_jd else "MJD-style numbers"
        notes.append(f"{said}: times read as BJD_TDB ({how}), assumed")
    if not full_jd and typical < MJD_LIKE_THRESHOLD:
        notes.append(f"times (~{typical:.4g}) do not look like dates; they are used as stored")
    return time_mjd, standard, notes


# ---------------------------------------------------------------------------
# metadata


def _root_meta(attrs: h5py.AttributeManager) -> dict[str, Any]:
    """Block metadata from Eureka's root attributes (the ECF/meta object)."""
    meta: dict[str, Any] = {}
    upper = {"inst": "instrument", "inst_detector": "detector", "inst_filter": "filter",
             "inst_grating": "grating", "inst_pupil": "pupil", "inst_subarray": "subarray"}
    for key, name in upper.items():
        value = _text(attrs.get(key))
        if value is not None:
            meta[name] = value.upper()
    for key in ("target", "targname", "target_name"):
        value = _text(attrs.get(key))
        if value is not None:
            meta["target"] = value
            break
    eventlabel = _text(attrs.get("eventlabel"))
    if eventlabel is not None:
        meta["eventlabel"] = eventlabel
    version = _text(attrs.get("version"))
    if version is not None:
        meta["pipeline"] = f"Eureka! {version}"
    elif _text(attrs.get("data_format")) == "eureka" or "_NCProperties" in attrs:
        meta["pipeline"] = "Eureka!"
    return meta


# ---------------------------------------------------------------------------
# reading


@dataclass
class _Spectra:
    """Arrays of one spectral element before they become a block."""

    element: str
    wavelength: np.ndarray
    flux: np.ndarray
    error: np.ndarray
    bad: np.ndarray | None
    notes: list[str] = field(default_factory=list)


def read(path: Path, source: str) -> list[SpectralBlock]:
    """Read a Eureka! SpecData/LCData file or a flat HDF5 export into blocks.

    Raises
    ------
    ReadError
        Photometry files, files missing the flux/wavelength/time datasets, damaged
        files, files whose flux is all NaN.
    """
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise ReadError(_open_failure(exc)) from None
    try:
        with h5:
            return _read_open(h5, source)
    except OSError as exc:  # a chunk past the end of a truncated file
        raise ReadError(f"is a damaged or truncated HDF5 file: its data cannot be read ({_short(exc)})") from None


def _open_failure(exc: OSError) -> str:
    """Why h5py could not open the file, in a user's words."""
    text = str(exc)
    found = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", text)
    if found:
        have, want = int(found.group(1)), int(found.group(2))
        return (f"is a truncated HDF5 file: only {have:,} of its {want:,} bytes are present "
                "(an incomplete download or copy?)")
    reason = re.search(r"\((.+)\)", text)
    detail = (reason.group(1) if reason else text)[:160]
    return f"is a damaged HDF5 file and cannot be opened ({detail})" if detail else \
        "is a damaged HDF5 file and cannot be opened"


def _short(exc: Exception) -> str:
    text = str(exc).split("(")[0].strip().rstrip(",") or type(exc).__name__
    return text[:160]


def _datasets(h5: h5py.File) -> set[str]:
    return {k for k, v in h5.items() if isinstance(v, h5py.Dataset)}


def _read_open(h5: h5py.File, source: str) -> list[SpectralBlock]:
    keys = _datasets(h5)
    flux_key = _first_present(keys, FLUX_KEYS)
    if flux_key is None and _is_light_curve_file(h5, keys):
        return _read_light_curves(h5, keys, source)
    if flux_key is None:
        if "aplev" in keys or _text(h5.attrs.get("photometry")) in ("True", "true", "1"):
            raise ReadError("is Eureka! photometry (aplev), not spectroscopy: no optspec")
        raise ReadError(_missing_message(keys, flux=None))
    return _read_spectra(h5, keys, flux_key, source)


def _is_light_curve_file(h5: h5py.File, keys: set[str]) -> bool:
    return ("data" in keys and "err" in keys and h5["data"].ndim == 2
            and ("wavelength" in keys or "wave_mid" in keys))


def _missing_message(keys: set[str], flux: str | None) -> str:
    """What is missing (and what is there) for a file without usable spectra."""
    missing = []
    for role, candidates in (("flux", FLUX_KEYS), ("wavelength", WAVELENGTH_KEYS), ("time", TIME_KEYS)):
        if _first_present(keys, candidates) is None:
            missing.append(f"{role} (one of {', '.join(candidates)})")
    opening = f"has spectra ({flux}) but" if flux else "is an HDF5 file without time-series spectra:"
    return f"{opening} missing {'; '.join(missing)}; found: {_describe_found(keys)}"


def _read_time(h5: h5py.File, key: str, flux_ds: h5py.Dataset) -> tuple[np.ndarray, str, list[str]]:
    dataset = h5[key]
    values = np.asarray(_float_array(dataset), dtype=np.float64).reshape(-1)
    units = _attr_from([dataset, flux_ds], h5.attrs, "time_units")
    return interpret_time(values, units, key)


def _read_spectra(h5: h5py.File, keys: set[str], flux_key: str, source: str) -> list[SpectralBlock]:
    wave_key = _first_present(keys, WAVELENGTH_KEYS)
    time_key = _first_present(keys, TIME_KEYS)
    if wave_key is None or time_key is None:
        raise ReadError(_missing_message(keys, flux=flux_key))
    flux_ds = h5[flux_key]
    notes: list[str] = []
    error_key = _first_present(keys, PAIRED_ERROR_KEYS.get(flux_key, ()) + GENERIC_ERROR_KEYS)
    if flux_key == "stdspec":  # only chosen when there is no optspec
        notes.append("no optimal spectrum (optspec) in the file: used the box spectrum stdspec"
                     + (" with errors √stdvar (stdvar is a variance)" if error_key == "stdvar" else ""))
    if error_key is None:
        notes.append(f"no error dataset for {flux_key}: uncertainties unknown")
    mask_key = _first_present(keys, MASK_KEYS)

    time_mjd, time_standard, time_notes = _read_time(h5, time_key, flux_ds)
    notes += time_notes
    n_time = time_mjd.size

    flux = _float_array(flux_ds)
    wave_ds = h5[wave_key]
    wavelength = _float_array(wave_ds)
    flux_dims = _dim_names(flux_ds)
    order_values = _order_values(h5, keys, flux, flux_dims)

    flux, transposed = _orient(flux, flux_dims, n_time, flux_key, order_values is not None and flux.ndim == 3)
    if transposed:
        notes.append(f"{flux_key} is stored as (wavelength, time): transposed")
    error = None
    if error_key is not None:
        error = _orient(_float_array(h5[error_key]), _dim_names(h5[error_key]), n_time, error_key,
                        flux.ndim == 3)[0]
        if error_key in VARIANCE_KEYS:
            with np.errstate(invalid="ignore"):
                error = np.sqrt(np.where(error >= 0, error, np.nan))
        if error.shape != flux.shape:
            raise ReadError(f"{error_key} has shape {error.shape} but {flux_key} has shape {flux.shape}")
    bad = None
    if mask_key is not None and h5[mask_key].shape == h5[flux_key].shape:
        mask_ds = h5[mask_key]
        bad = _orient(np.asarray(_read_checked(mask_ds)) != 0, _dim_names(mask_ds), n_time, mask_key, flux.ndim == 3)[0]

    wavelength, wave_unit_note = wavelength_to_micron(
        wavelength, _attr_from([wave_ds], h5.attrs, "wave_units"))
    if wave_unit_note:
        notes.append(wave_unit_note)
    flux_unit, unit_assumed, unit_note = flux_unit_from_text(_attr_from([flux_ds], h5.attrs, "flux_units"))
    if unit_note:
        if flux_key == "calibrated_optspec":
            unit_note += " (flux-calibrated exports of this kind are often in Jy)"
        notes.append(unit_note)

    if flux.shape[0] == 0:
        raise ReadError(f"holds no integrations ({flux_key} has shape {flux.shape})")

    if flux.ndim == 3:
        spectra = _split_orders(flux, error, bad, wavelength, _dim_names(wave_ds), order_values, flux_key)
    else:
        element = f"order {order_values[0]}" if order_values is not None else ""
        spectra = [_Spectra(element, wavelength, flux, error, bad)]

    meta = _root_meta(h5.attrs)
    meta["flux_dataset"] = flux_key
    meta["nints"] = int(n_time)
    if unit_assumed:
        meta["flux_unit_assumed"] = True
    eureka_file = _dim_names(flux_ds) is not None or _text(h5.attrs.get("data_format")) == "eureka"
    layout = "eureka-s3" if eureka_file else "hdf5-keys"
    if eureka_file:
        meta.setdefault("pipeline", "Eureka!")
    exposure = _exposure_key(meta, time_mjd, "spectra")

    blocks = []
    for spec in spectra:
        spec = _with_columns_checked(spec, flux_key, wave_key, n_time)
        blocks.append(SpectralBlock(
            source=source, layout=layout, wavelength=spec.wavelength, flux=spec.flux,
            error=spec.error, flux_unit=flux_unit, integration=np.arange(1, n_time + 1),
            time_mjd=time_mjd, time_standard=time_standard, element=spec.element,
            exposure=exposure, stage=0, meta=dict(meta), bad=spec.bad, notes=notes + spec.notes,
        ))
    return blocks


def _order_values(h5: h5py.File, keys: set[str], flux: np.ndarray, dims) -> list[int] | None:
    """Spectral orders of a NIRISS file: from an ``order`` coordinate, or None."""
    if "order" in keys:
        values = np.asarray(_read_checked(h5["order"])).reshape(-1)
        if values.dtype.kind in "iuf" and values.size:
            return [int(v) for v in values]
    if flux.ndim == 3:
        orders = np.asarray(h5.attrs.get("orders", [])).reshape(-1)
        order_axis = dims.index("order") if dims and "order" in dims else 2
        if orders.dtype.kind in "iu" and orders.size == flux.shape[order_axis]:
            return [int(v) for v in orders]
        return list(range(1, flux.shape[order_axis] + 1))
    return None


def _orient(values: np.ndarray, dims, n_time: int, key: str, has_order: bool) -> tuple[np.ndarray, bool]:
    """Put the time axis first (and an order axis last); says whether it transposed."""
    if values.ndim not in (2, 3) or (values.ndim == 3) != has_order:
        raise ReadError(f"{key} has {values.ndim} dimensions {values.shape}; expected (time, wavelength)"
                        + (" plus an order axis" if has_order else ""))
    if dims is not None and "time" in dims:
        time_axis = dims.index("time")
    elif values.shape[0] == n_time:
        time_axis = 0
    else:
        matches = [a for a, n in enumerate(values.shape) if n == n_time]
        if not matches:
            raise ReadError(f"{key} has shape {values.shape} but there are {n_time} times")
        time_axis = matches[0]
    if values.shape[time_axis] != n_time:
        raise ReadError(f"{key} has {values.shape[time_axis]} rows but there are {n_time} times")
    if values.ndim == 3:
        order_axis = dims.index("order") if dims is not None and "order" in dims else 2
        if order_axis == time_axis:
            raise ReadError(f"{key}: the order and time axes cannot be told apart")
        other = ({0, 1, 2} - {time_axis, order_axis}).pop()
        return np.transpose(values, (time_axis, other, order_axis)), False
    return (values.T, True) if time_axis == 1 else (values, False)


def _split_orders(flux, error, bad, wavelength, wave_dims, orders: list[int], flux_key: str) -> list[_Spectra]:
    """One set of spectra per order from (time, x, order) arrays."""
    n_x, n_order = flux.shape[1], flux.shape[2]
    if wavelength.ndim == 2:
        order_first = wave_dims[0] == "order" if wave_dims is not None else (
            wavelength.shape == (n_order, n_x) and n_order != n_x)
        if order_first:
            wavelength = wavelength.T
        if wavelength.shape != (n_x, n_order):
            raise ReadError(f"the wavelength array has shape {wavelength.shape} but {flux_key} has "
                            f"{n_x} columns and {n_order} orders")
    spectra = []
    for k, order in enumerate(orders):  # a handful of orders, never integrations
        wave = wavelength[:, k] if wavelength.ndim == 2 else wavelength
        spectra.append(_Spectra(
            f"order {order}", wave, flux[:, :, k],
            error[:, :, k] if error is not None else None,
            bad[:, :, k] if bad is not None else None,
        ))
    return spectra


def _with_columns_checked(spec: _Spectra, flux_key: str, wave_key: str, n_time: int) -> _Spectra:
    """Validate shapes, drop columns without a wavelength, refuse all-NaN flux."""
    wavelength = spec.wavelength
    n_wave = spec.flux.shape[1]
    label = f" ({spec.element})" if spec.element else ""
    if wavelength.ndim == 2 and wavelength.shape == spec.flux.shape:
        keep = np.isfinite(wavelength).all(axis=0)
    elif wavelength.ndim == 1 and wavelength.size == n_wave:
        keep = np.isfinite(wavelength)
    else:
        raise ReadError(f"{wave_key} has shape {wavelength.shape} but {flux_key}{label} has {n_wave} columns")
    notes = list(spec.notes)
    flux, error, bad = spec.flux, spec.error, spec.bad
    if not keep.any():
        raise ReadError(f"has no valid wavelengths{label} ({wave_key} is all NaN)")
    if not keep.all():
        dropped = int(np.count_nonzero(~keep))
        notes.append(f"{dropped} column(s){label} without a wavelength (NaN in {wave_key}) were dropped")
        wavelength = wavelength[..., keep]
        flux = flux[:, keep]
        error = error[:, keep] if error is not None else None
        bad = bad[:, keep] if bad is not None else None
    if not np.isfinite(flux).any():
        raise ReadError(f"holds no usable flux{label}: {flux_key} is all NaN")
    if error is None:
        error = np.full(flux.shape, np.nan)
    return _Spectra(spec.element, wavelength, flux, error, bad, notes)


def _exposure_key(meta: dict[str, Any], time_mjd: np.ndarray, kind: str) -> str:
    """Eureka files carry no exposure id: key them by event label and first time."""
    label = meta.get("eventlabel") or "eureka"
    start = float(np.nanmin(time_mjd))
    return f"{label} {kind} @ {start:.5f}"


def _read_light_curves(h5: h5py.File, keys: set[str], source: str) -> list[SpectralBlock]:
    """S4 ``LCData``: binned light curves on (wavelength, time); the white light is not a channel."""
    data_ds = h5["data"]
    time_key = _first_present(keys, TIME_KEYS)
    if time_key is None:
        raise ReadError(f"has light curves (data) but no time dataset (looked for {', '.join(TIME_KEYS)}); "
                        f"found: {_describe_found(keys)}")
    wave_key = "wavelength" if "wavelength" in keys else "wave_mid"
    notes: list[str] = []
    time_mjd, time_standard, time_notes = _read_time(h5, time_key, data_ds)
    notes += time_notes
    n_time = time_mjd.size
    wave_ds = h5[wave_key]
    centres, unit_note = wavelength_to_micron(
        np.asarray(_float_array(wave_ds), dtype=np.float64).reshape(-1),
        _attr_from([wave_ds, data_ds], h5.attrs, "wave_units"))
    if unit_note:
        notes.append(unit_note)

    dims = _dim_names(data_ds)
    flux = _orient_light_curve(_float_array(data_ds), dims, n_time, centres.size, "data")
    error = _orient_light_curve(_float_array(h5["err"]), _dim_names(h5["err"]), n_time, centres.size, "err")
    bad = None
    if "mask" in keys and h5["mask"].shape == data_ds.shape:
        bad = _orient_light_curve(np.asarray(_read_checked(h5["mask"])) != 0, _dim_names(h5["mask"]), n_time,
                                  centres.size, "mask")
    flux_unit, unit_assumed, flux_note = flux_unit_from_text(_attr_from([data_ds], h5.attrs, "flux_units"))
    if flux_note:
        notes.append(flux_note)

    meta = _root_meta(h5.attrs)
    meta["flux_dataset"] = "data"
    meta["nints"] = int(n_time)
    meta["light_curve_channels"] = int(centres.size)
    for name in ("wave_low", "wave_hi"):
        if name in keys and h5[name].size == centres.size:
            # the channel edges in µm, converted with the centres' units
            edges, _ = wavelength_to_micron(np.asarray(_read_checked(h5[name]), dtype=np.float64).reshape(-1),
                                            _attr_from([h5[name], wave_ds, data_ds], h5.attrs, "wave_units"))
            meta[name] = [float(v) for v in edges]
    if ("wave_low" not in meta or "wave_hi" not in meta) and "wave_err" in keys and h5["wave_err"].size == centres.size:
        # only the half widths: the channels are their centres ± wave_err (same units as the centres)
        half, _ = wavelength_to_micron(np.asarray(_read_checked(h5["wave_err"]), dtype=np.float64).reshape(-1),
                                       _attr_from([h5["wave_err"], wave_ds, data_ds], h5.attrs, "wave_units"))
        meta["wave_low"], meta["wave_hi"] = [float(v) for v in centres - half], [float(v) for v in centres + half]
    if "wave_low" in meta and "wave_hi" in meta:
        meta["wave_centre"] = [float(v) for v in centres]  # which channel each edge pair belongs to
    edges = None
    if "wave_low" in meta and "wave_hi" in meta:
        low, high = np.asarray(meta["wave_low"]), np.asarray(meta["wave_hi"])
        if np.isfinite(low).any() and np.isfinite(high).any():
            edges = (float(np.nanmin(low)), float(np.nanmax(high)))
    if unit_assumed:
        meta["flux_unit_assumed"] = True
    info = [f"Eureka! Stage 4 light curves: {centres.size} wavelength channel(s), "
            "each the mean of the spectrum over its channel"]

    spec = _with_columns_checked(_Spectra("", centres, flux, error, bad), "data", wave_key, n_time)
    return [SpectralBlock(
        source=source, layout="eureka-s4", wavelength=spec.wavelength, flux=spec.flux, error=spec.error,
        flux_unit=flux_unit, integration=np.arange(1, n_time + 1), time_mjd=time_mjd,
        time_standard=time_standard, element="", exposure=_exposure_key(meta, time_mjd, "light curves"),
        stage=0, meta=meta, bad=spec.bad, notes=notes + spec.notes, info=info, wavelength_edges=edges,
    )]


def _orient_light_curve(values: np.ndarray, dims, n_time: int, n_wave: int, key: str) -> np.ndarray:
    """LCData arrays are (wavelength, time) on disk; return (time, wavelength)."""
    if values.ndim != 2:
        raise ReadError(f"{key} has shape {values.shape}; expected (wavelength, time)")
    if dims is not None and dims[0] == "time":
        oriented = values
    elif dims is not None and dims[1] == "time":
        oriented = values.T
    elif values.shape == (n_wave, n_time):
        oriented = values.T
    else:
        oriented = values
    if oriented.shape != (n_time, n_wave):
        raise ReadError(f"{key} has shape {values.shape} but there are {n_time} times and {n_wave} channels")
    return oriented


register_reader(
    "eureka",
    identify,
    read,
    priority=0,
    description="Eureka! S3/S4 SpecData and S4 LCData (HDF5), and flat HDF5 exports of spectra",
)
