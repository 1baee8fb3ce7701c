"""Write a synthetic :class:`~stamp_engine.synthetic.Observation` as Eureka! HDF5.

The files reproduce what ``astraeus.xarrayIO.writeXR`` (xarray + h5netcdf) writes
(FORMATS.md §6): root datasets, HDF5 dimension scales attached through h5py's dims
API, ``_FillValue=NaN`` on floats, booleans as ``int8`` with ``dtype='bool'``,
``flux_units``/``time_units``/``wave_units`` attributes and Eureka's meta object as
root attributes.  Variants cover the layouts real users upload:

``"v1"``
    Eureka ≥ 1.0 Stage-3 ``SpecData`` (``time_units='BMJD_TDB'``, float32 spectra,
    big-endian ``time``/``wave_1d`` as in the real files).
``"2022"``
    Mid-2022 Eureka: no root attributes, ``time_units='BJD_TDB'`` on MJD-like numbers,
    float64 ``optspec`` and scalar ``_FillValue``.
``"soss-orders"``
    NIRISS SOSS with a trailing ``order`` dimension: ``optspec (time, x, order)``,
    ``wave_1d (x, order)``; order 2 is shorter and NaN-padded, as real SOSS order 2 is.
``"photometry"``
    Eureka photometry: ``aplev``/``aperr`` on (time), no ``optspec``.
``"plain-keys"``, ``"calibrated-keys"``
    Flat h5py datasets without dimension scales or units, under the keys the original
    STAMP reader looked for (FORMATS.md §7): ``stdspec``+``stdvar`` / ``wavelength`` /
    ``bmjd`` and ``calibrated_optspec``/``calibrated_opterr``/``eureka_wave_1d``/``time``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import astropy.units as u
import h5py
import numpy as np

from . import Observation

VARIANTS = ("v1", "2022", "plain-keys", "calibrated-keys", "photometry", "soss-orders")

#: Electrons per integration for 1 Jy: any fixed factor serves synthetic data.
ELECTRONS_PER_JY = 1.0e6
JD_MINUS_MJD = 2400000.5

_DEFAULT_KEYS = {
    "plain-keys": {"flux": "stdspec", "error": "stdvar", "wave": "wavelength", "time": "bmjd"},
    "calibrated-keys": {"flux": "calibrated_optspec", "error": "calibrated_opterr",
                        "wave": "eureka_wave_1d", "time": "time"},
}
#: Error keys that hold a variance rather than a standard deviation.
_VARIANCE_KEYS = frozenset({"stdvar"})
_AUTO = "auto"


def flux_scale(from_unit: str, to_unit: str | None) -> float:
    """Factor turning flux in ``from_unit`` into ``to_unit`` (electrons: a fixed gain)."""
    if to_unit is None or to_unit.upper().startswith("ELECTRON"):
        return ELECTRONS_PER_JY * u.Unit(from_unit).to(u.Jy)
    try:
        return float(u.Unit(from_unit).to(u.Unit(to_unit)))
    except (ValueError, u.UnitConversionError):
        return 1.0  # a label STAMP should not understand (e.g. "DN/int"): values as they are


class _Writer:
    """Creates datasets the way xarray/h5netcdf lays them out."""

    def __init__(self, h5: h5py.File, *, compression: str | None, scalar_fill: bool = False):
        self.h5 = h5
        self.compression = compression
        self.scalar_fill = scalar_fill

    def _options(self, data: np.ndarray) -> dict[str, Any]:
        if self.compression and data.ndim >= 1 and data.size > 1:
            return {"compression": self.compression, "shuffle": True,
                    **({"compression_opts": 4} if self.compression == "gzip" else {})}
        return {}

    def scale(self, name: str, values: np.ndarray, attrs: Mapping[str, Any] | None = None) -> h5py.Dataset:
        ds = self.dataset(name, values, (), attrs)
        ds.make_scale(name)
        return ds

    def dataset(self, name: str, values: np.ndarray, dims: Sequence[str] | None = (),
                attrs: Mapping[str, Any] | None = None, *, boolean: bool = False) -> h5py.Dataset:
        values = np.asarray(values)
        if boolean:
            values = values.astype(np.int8)
        kwargs = self._options(values)
        if values.dtype.kind == "f":
            kwargs["fillvalue"] = np.nan
        ds = self.h5.create_dataset(name, data=values, **kwargs)
        if values.dtype.kind == "f":
            fill = np.array([np.nan], dtype=values.dtype.newbyteorder("="))
            ds.attrs["_FillValue"] = fill[0] if self.scalar_fill else fill
        for key, value in (attrs or {}).items():
            if value is not None:
                ds.attrs[key] = value
        if boolean:
            ds.attrs["dtype"] = "bool"
        for axis, dim in enumerate(dims or ()):
            ds.dims[axis].attach_scale(self.h5[dim])
        return ds


def _stored_times(obs: Observation, full_jd: bool) -> np.ndarray:
    return obs.time_bjd_tdb + (JD_MINUS_MJD if full_jd else 0.0)


def _resolve(value: str | None, default: str | None) -> str | None:
    return default if value == _AUTO else value


def _root_attrs(obs: Observation, variant: str, n_int: int, flux_attr: str | None,
                extra: Mapping[str, Any] | None) -> dict[str, Any]:
    meta = obs.meta
    attrs: dict[str, Any] = {
        "data_format": "eureka",
        "eventlabel": str(meta.get("eventlabel", "STAMPsynth")),
        "inst": str(meta.get("instrument", "NIRSPEC")).lower(),
        "inst_detector": str(meta.get("detector", "NRS1")).lower(),
        "inst_filter": str(meta.get("filter", "CLEAR")).lower(),
        "version": "1.4",
        "photometry": np.array([variant == "photometry"]),
        "suffix": "calints",
        "orders": "None",
        "calibrated_spectra": np.array([bool(flux_attr) and not flux_attr.upper().startswith("ELECTRON")]),
        "convert_to_e": np.array([bool(flux_attr) and flux_attr.upper().startswith("ELECTRON")]),
        "n_int": np.array([n_int]),
        "spec_hw": np.array([5]),
        "bg_hw": np.array([10]),
        "fittype": "smooth",
    }
    if meta.get("grating"):
        attrs["inst_grating"] = str(meta["grating"]).lower()
    if variant == "soss-orders":
        attrs.update(inst="niriss", inst_detector="nis", inst_filter="clear", orders=np.array([1, 2]))
        attrs.pop("inst_grating", None)
    attrs.update(extra or {})
    return attrs


def write_eureka_s3(
    path: str | Path,
    obs: Observation,
    *,
    variant: str = "v1",
    flux_units: str | None = _AUTO,
    time_units: str | None = _AUTO,
    float32: bool = True,
    compression: str | None = None,
    descending: bool = False,
    full_jd: bool = False,
    nan_wave_columns: Sequence[int] = (),
    keys: Mapping[str, str] | None = None,
    root_attrs: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``obs`` as a Eureka! Stage-3 ``SpecData.h5`` (or a flat HDF5 export).

    Parameters
    ----------
    path : str or Path
        Output file.
    obs : Observation
        The synthetic observation (flux in ``obs.flux_unit``).
    variant : str
        One of :data:`VARIANTS` (see the module docstring).
    flux_units : str or None
        Unit the flux is converted to and written as the ``flux_units`` attribute
        (``"ELECTRONS"`` uses a fixed gain of :data:`ELECTRONS_PER_JY`).  ``"auto"``:
        the variant's own (``ELECTRONS``; none for the flat variants, whose flux is
        electrons for ``plain-keys`` and Jy for ``calibrated-keys``).  None: no attribute.
    time_units : str or None
        ``time_units`` attribute; ``"auto"``: ``BMJD_TDB`` (``BJD_TDB`` for ``"2022"``,
        none for the flat variants).  None: no attribute.
    float32 : bool
        Store the spectra as float32, as Eureka does.
    compression : {None, "gzip", "lzf"}
        HDF5 filter for the arrays (shuffle on).
    descending : bool
        Store columns in decreasing wavelength (MIRI LRS / SOSS order), ``x`` running backwards.
    full_jd : bool
        Store full Julian Dates (HST WFC3 style) instead of MJD-style numbers.
    nan_wave_columns : sequence of int
        File columns whose ``wave_1d`` is NaN (WCS undefined there).
    keys : mapping, optional
        For the flat variants: dataset names for ``flux``, ``error``, ``wave``, ``time``
        (an ``error`` key ``"stdvar"`` is written as a variance).
    root_attrs : mapping, optional
        Extra or replacement root attributes (e.g. ``{"target": "WASP-39"}``).

    Returns
    -------
    Path
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, not {variant!r}")
    path = Path(path)
    flat = variant in _DEFAULT_KEYS
    flux_attr = _resolve(flux_units, None if flat else "ELECTRONS")
    time_attr = _resolve(time_units, None if flat else ("BJD_TDB" if variant == "2022" else "BMJD_TDB"))
    scale_to = flux_attr or ("Jy" if variant == "calibrated-keys" else "ELECTRONS")
    factor = flux_scale(obs.flux_unit, scale_to)

    columns = slice(None, None, -1) if descending else slice(None)
    wavelength = np.asarray(obs.wavelength, dtype=np.float64)[columns].copy()
    flux = obs.flux[:, columns] * factor
    error = obs.error[:, columns] * factor
    if nan_wave_columns:
        wavelength[list(nan_wave_columns)] = np.nan
    times = _stored_times(obs, full_jd)
    spectrum_dtype = np.float32 if float32 else np.float64

    with h5py.File(path, "w") as h5:
        if flat:
            _write_flat(h5, variant, keys, flux, error, wavelength, times, spectrum_dtype,
                        flux_attr, time_attr, compression)
            for key, value in (root_attrs or {}).items():
                h5.attrs[key] = value
            return path
        writer = _Writer(h5, compression=compression, scalar_fill=variant == "2022")
        if variant != "2022":
            for key, value in _root_attrs(obs, variant, obs.n_integrations, flux_attr, root_attrs).items():
                h5.attrs[key] = value
        elif root_attrs:
            for key, value in root_attrs.items():
                h5.attrs[key] = value
        n_x = wavelength.size
        x0 = 33
        x = (x0 + np.arange(n_x))[columns] if descending else x0 + np.arange(n_x)
        n_y = 8
        # Real Eureka files store time as big-endian >f8 and often wave_1d as >f4.
        writer.scale("time", times.astype(">f8"), {"time_units": time_attr})
        writer.scale("x", x.astype(np.int64))
        writer.scale("y", np.arange(n_y, dtype=np.int64))
        flux_attrs = {"flux_units": flux_attr, "time_units": time_attr, "wave_units": "microns"}
        if variant == "2022":
            flux_attrs.pop("wave_units")
        profile = np.exp(-0.5 * ((np.arange(n_y) - n_y / 2) / 1.2) ** 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NaN columns have no median
            median = np.nanmedian(flux, axis=0)
        writer.dataset("medflux", (profile[:, None] * median[None, :]).astype(np.float32), ("y", "x"),
                       {"flux_units": flux_attr})
        rng = np.random.default_rng(int(obs.truth.get("seed", 0)) + 7)
        writer.dataset("centroid_y", 13.74 + 0.003 * rng.standard_normal(obs.n_integrations), ("time",),
                       {"units": "pixels"})
        if variant == "photometry":
            _write_photometry(writer, flux, error, wavelength, flux_attr, time_attr)
            return path
        if variant == "soss-orders":
            _write_orders(writer, flux, error, wavelength, spectrum_dtype, flux_attrs)
            return path
        wave_dtype = ">f4" if float32 else ">f8"
        writer.dataset("wave_1d", wavelength.astype(wave_dtype), ("x",), {"wave_units": "microns"})
        opt_dtype = np.float64 if variant == "2022" else spectrum_dtype
        writer.dataset("optspec", flux.astype(opt_dtype), ("time", "x"), flux_attrs)
        writer.dataset("opterr", error.astype(opt_dtype), ("time", "x"), flux_attrs)
        mask_attrs = {"flux_units": "None", "time_units": time_attr, "wave_units": "microns"}
        writer.dataset("optmask", ~np.isfinite(flux), ("time", "x"),
                       {} if variant == "2022" else mask_attrs, boolean=True)
        box, box_var = _box_spectrum(flux, error, rng)
        box_attrs = {"flux_units": flux_attr, "time_units": time_attr}
        writer.dataset("stdspec", box.astype(np.float32), ("time", "x"), box_attrs)
        writer.dataset("stdvar", box_var.astype(np.float32), ("time", "x"), box_attrs)
        if variant == "2022":
            writer.dataset("driftypos", 12.4 + 0.05 * rng.standard_normal(obs.n_integrations), ("time",))
    return path


def _box_spectrum(flux: np.ndarray, error: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A box-extraction spectrum: the same source with 25 % more variance than optimal."""
    extra = 0.5 * error
    box = flux + rng.standard_normal(flux.shape) * extra
    return box, error**2 + extra**2


def _write_photometry(writer: _Writer, flux, error, wavelength, flux_attr, time_attr) -> None:
    attrs = {"flux_units": flux_attr, "time_units": time_attr}
    writer.dataset("aplev", np.nansum(flux, axis=1), ("time",), attrs)
    writer.dataset("aperr", np.sqrt(np.nansum(error**2, axis=1)), ("time",), attrs)
    n_int = flux.shape[0]
    for name in ("nappix", "nskypix", "betaper", "status", "skylev", "skyerr"):
        writer.dataset(name, np.zeros(n_int), ("time",))
    centre = float(np.nanmedian(wavelength))
    writer.dataset("wave_1d", np.full(wavelength.size, centre, dtype=np.float32), ("x",),
                   {"wave_units": "microns"})


def _write_orders(writer: _Writer, flux, error, wavelength, dtype, flux_attrs) -> None:
    """Order 1 = the observation; order 2 = its blue 60 %, fainter, NaN-padded to the same x."""
    n_int, n_x = flux.shape
    m = int(0.6 * n_x)
    order2_cols = np.sort(np.argsort(wavelength)[:m])  # the bluest columns, in file order
    wave = np.full((n_x, 2), np.nan)
    wave[:, 0] = wavelength
    wave[:m, 1] = wavelength[order2_cols]
    spec = np.full((n_int, n_x, 2), np.nan)
    err = np.full((n_int, n_x, 2), np.nan)
    spec[:, :, 0], err[:, :, 0] = flux, error
    spec[:, :m, 1], err[:, :m, 1] = 0.3 * flux[:, order2_cols], 0.3 * error[:, order2_cols]
    writer.scale("order", np.array([1, 2], dtype=np.int64))
    writer.dataset("wave_1d", wave, ("x", "order"), {"wave_units": "microns"})
    writer.dataset("optspec", spec.astype(dtype), ("time", "x", "order"), flux_attrs)
    writer.dataset("opterr", err.astype(dtype), ("time", "x", "order"), flux_attrs)
    writer.dataset("optmask", ~np.isfinite(spec), ("time", "x", "order"),
                   {"flux_units": "None", "time_units": flux_attrs["time_units"], "wave_units": "microns"},
                   boolean=True)


def _write_flat(h5: h5py.File, variant: str, keys: Mapping[str, str] | None, flux, error, wavelength,
                times, dtype, flux_attr, time_attr, compression) -> None:
    names = {**_DEFAULT_KEYS[variant], **(keys or {})}
    options = {"compression": compression, "shuffle": True} if compression else {}
    error_values = error**2 if names["error"] in _VARIANCE_KEYS else error
    flux_ds = h5.create_dataset(names["flux"], data=flux.astype(dtype), **options)
    h5.create_dataset(names["error"], data=error_values.astype(dtype), **options)
    h5.create_dataset(names["wave"], data=wavelength)
    time_ds = h5.create_dataset(names["time"], data=times)
    if flux_attr:
        flux_ds.attrs["flux_units"] = flux_attr
    if time_attr:
        time_ds.attrs["time_units"] = time_attr


def default_channels(wavelength: np.ndarray, n: int = 4) -> list[tuple[float, float]]:
    """``n`` equal-width channels spanning the finite wavelengths."""
    edges = np.linspace(np.nanmin(wavelength), np.nanmax(wavelength), n + 1)
    return [(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:])]


def _channel_columns(wavelength: np.ndarray, channels: Sequence[tuple[float, float]]) -> list[np.ndarray]:
    last = len(channels) - 1
    return [np.flatnonzero((wavelength >= lo) & ((wavelength <= hi) if k == last else (wavelength < hi)))
            for k, (lo, hi) in enumerate(channels)]


def _channel_mean(flux: np.ndarray, error: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over finite columns per row and its error sqrt(Σσ²)/N; NaN where none is finite."""
    good = np.isfinite(flux)
    n_good = good.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(good, flux, 0.0).sum(axis=1) / n_good
        sigma = np.sqrt((np.where(good, error, 0.0) ** 2).sum(axis=1)) / n_good
    return mean, sigma


def binned_model(obs: Observation, channels: Sequence[tuple[float, float]]) -> np.ndarray:
    """Noise-free relative flux (n_int, n_channel) of each channel's mean spectrum.

    The channel flux is the mean over its columns of source × model, so the relative
    signal is the source-weighted mean of the model; the source spectrum is recovered
    from the noisy flux (``median(flux / model)``), good to the noise over √n_int.
    """
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN columns have no median
        source = np.nanmedian(obs.flux / obs.model, axis=0)
    out = np.empty((obs.n_integrations, len(channels)))
    for k, cols in enumerate(_channel_columns(obs.wavelength, channels)):  # a few channels
        weights = np.where(np.isfinite(source[cols]), source[cols], 0.0)
        out[:, k] = obs.model[:, cols] @ weights / weights.sum()
    return out


def write_eureka_s4_lc(
    path: str | Path,
    obs: Observation,
    channels: Sequence[tuple[float, float]] | None = None,
    white: bool = True,
    *,
    flux_units: str | None = "ELECTRONS",
    time_units: str | None = "BMJD_TDB",
    full_jd: bool = False,
    compression: str | None = None,
) -> Path:
    """Write ``obs`` binned into channels as a Eureka! Stage-4 ``LCData.h5``.

    As ``s4_genLC`` does: ``data`` is the mean of the spectrum over each channel's
    columns and ``err`` = sqrt(Σσ²)/N, stored transposed on ``(wavelength, time)``;
    ``wavelength`` holds the channel centres, ``wave_low``/``wave_hi``/``wave_mid``/
    ``wave_err`` the edges; ``flux_white``/``err_white``/``mask_white`` on (time) carry
    the white light curve with its centre in a ``wavelength`` attribute.

    Parameters
    ----------
    channels : list of (lo, hi), optional
        Channel edges in µm; default four equal channels.
    white : bool
        Also write the white light curve.
    """
    path = Path(path)
    channels = list(channels) if channels is not None else default_channels(obs.wavelength)
    factor = flux_scale(obs.flux_unit, flux_units or "ELECTRONS")
    flux, error = obs.flux * factor, obs.error * factor
    columns = _channel_columns(obs.wavelength, channels)
    if any(c.size == 0 for c in columns):
        raise ValueError("every channel must contain at least one wavelength")
    n_int, n_ch = obs.n_integrations, len(channels)
    data = np.empty((n_ch, n_int))
    err = np.empty((n_ch, n_int))
    for k, cols in enumerate(columns):  # a few channels
        data[k], err[k] = _channel_mean(flux[:, cols], error[:, cols])
    lo = np.array([c[0] for c in channels])
    hi = np.array([c[1] for c in channels])
    centre = (lo + hi) / 2
    common = {"flux_units": flux_units, "wave_units": "microns", "time_units": time_units}
    with h5py.File(path, "w") as h5:
        writer = _Writer(h5, compression=compression)
        relative = data / np.nanmedian(data, axis=1, keepdims=True)
        h5.attrs["data_format"] = "eureka"
        h5.attrs["mad_s4_binned"] = 1e6 * np.nanmedian(np.abs(np.diff(relative, axis=1)), axis=1)
        writer.scale("time", _stored_times(obs, full_jd), {"time_units": time_units})
        writer.scale("wavelength", centre, {"wave_units": "microns"})
        writer.dataset("data", data, ("wavelength", "time"), common)
        writer.dataset("err", err, ("wavelength", "time"), common)
        writer.dataset("mask", ~np.isfinite(data), ("wavelength", "time"), {**common, "flux_units": "None"},
                       boolean=True)
        for name, values in (("wave_low", lo), ("wave_hi", hi), ("wave_mid", centre), ("wave_err", (hi - lo) / 2)):
            writer.dataset(name, values, ("wavelength",), {"wave_units": "microns"})
        writer.dataset("driftmask", np.zeros(n_int, dtype=bool), ("time",), boolean=True)
        if white:
            used = np.concatenate(columns)
            white_attrs = {"units": flux_units, "time_units": time_units, "wave_units": "microns",
                           "wavelength": np.array([float(np.mean(obs.wavelength[used]))])}
            flux_white, err_white = _channel_mean(flux[:, used], error[:, used])
            writer.dataset("flux_white", flux_white, ("time",), white_attrs)
            writer.dataset("err_white", err_white, ("time",), white_attrs)
            writer.dataset("mask_white", ~np.isfinite(flux_white), ("time",),
                           {**white_attrs, "units": "None"}, boolean=True)
    return path
