"""The cube as the objects the rest of an astronomer's analysis uses.

Bound as :class:`~stamp_engine.cube.Cube` methods (``cube.to_xarray()``,
``Cube.from_xarray(ds)``, ``cube.to_timeseries()``, ``cube.light_curve_timeseries(bands)``,
``cube.to_rainbow()``), so each conversion has exactly one signature.

* :func:`to_xarray` / :func:`from_xarray` — an :class:`xarray.Dataset` with dims
  ``time`` × ``wavelength``; every coordinate carries its unit in ``attrs["units"]`` and
  the time coordinate its astropy scale and format, so the round trip is exact
  (``pip install 'stamp[interop]'`` for xarray).
* :func:`to_timeseries` / :func:`light_curve_timeseries` — :class:`astropy.timeseries.TimeSeries`
  whose ``time`` column is a :class:`~astropy.time.Time` in the cube's scale and whose
  values are quantities in the cube's unit.
* :func:`to_rainbow` — a chromatic ``Rainbow`` (``pip install chromatic-lightcurves``).

The optional libraries are imported only when a conversion is called; a missing one
raises :class:`ImportError` saying what to install.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Sequence

import astropy.units as u
import numpy as np
from astropy.time import Time

if TYPE_CHECKING:
    import xarray
    from astropy.timeseries import TimeSeries

    from .bands import Band
    from .cube import Cube

#: Time-axis arrays of a cube that travel as coordinates along ``time``.
_ROW_FIELDS = ("visit", "integration", "source_index")
#: Prefix of per-integration ``meta`` arrays (e.g. ``interpolated``) stored as ``time`` coordinates.
_ROW_META_PREFIX = "meta_"


def _require(module: str, method: str, install: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{method} needs {module.split('.')[0]}, which is not installed: {install}") from exc


def _unit_text(unit: u.UnitBase) -> str:
    return unit.to_string()


# ------------------------------------------------------------------------------- xarray
def to_xarray(cube: "Cube") -> "xarray.Dataset":
    """The cube as an :class:`xarray.Dataset` (dims ``time`` × ``wavelength``).

    Data variables ``flux`` and ``error`` (``attrs["units"]`` = the cube's flux unit,
    ``"%"`` for variability) and, for a normalized cube, ``reference`` (dims
    ``reference_visit`` × ``wavelength``).  Coordinates: ``wavelength`` (µm), ``time``
    (MJD-style number in days, ``attrs["scale"]`` the astropy time scale,
    ``attrs["time_standard"]`` e.g. ``BJD_TDB``), ``hours``, ``visit``, ``integration``,
    ``source_index`` and per-integration flags from ``meta``.  Sources, history,
    problems and metadata are in ``attrs`` (JSON strings where nested, so the dataset
    writes to netCDF).  :func:`from_xarray` reads it back.

    Raises
    ------
    ImportError
        When xarray is not installed.
    """
    xr = _require("xarray", "Cube.to_xarray", "pip install 'stamp[interop]' (or pip install xarray)")
    from .export.serialize import dumps as _dumps

    value_unit = _unit_text(cube.flux_unit)
    coords: dict[str, Any] = {
        "time": ("time", cube.time.mjd, {
            "units": "d", "format": "mjd", "scale": cube.time.scale, "time_standard": cube.time_standard,
            "long_name": f"mid-integration time ({cube.time_standard}), MJD-style number",
        }),
        "wavelength": ("wavelength", np.asarray(cube.wavelength, dtype=np.float64),
                       {"units": "um", "long_name": "wavelength"}),
        "hours": ("time", cube.hours, {"units": "h", "long_name": cube.time_label}),
    }
    for name in _ROW_FIELDS:
        coords[name] = ("time", np.asarray(getattr(cube, name)))
    row_meta = {k: v for k, v in cube.meta.items()
                if isinstance(v, np.ndarray) and v.shape[:1] == (cube.n_integrations,)}
    for key, values in row_meta.items():
        # A row array with more axes (e.g. ``row_span`` after time binning, n × k) gets its own
        # dims after ``time``; xarray refuses a 2-D coordinate on the single dim ``time``.
        extra_dims = tuple(f"{_ROW_META_PREFIX}{key}_dim{axis}" for axis in range(1, values.ndim))
        coords[f"{_ROW_META_PREFIX}{key}"] = (("time", *extra_dims), values)
    data_vars: dict[str, Any] = {
        "flux": (("time", "wavelength"), cube.flux,
                 {"units": value_unit, "long_name": "variability" if cube.is_normalized else "flux"}),
        "error": (("time", "wavelength"), cube.error, {"units": value_unit, "long_name": "1-sigma error of flux"}),
    }
    if cube.reference is not None:
        unit = _unit_text(cube.reference_unit) if cube.reference_unit is not None else ""
        data_vars["reference"] = (("reference_visit", "wavelength"), cube.reference,
                                  {"units": unit, "long_name": "reference spectrum of each visit"})
    other_meta = {k: v for k, v in cube.meta.items() if k not in row_meta}
    attrs = {
        "title": f"STAMP cube of {cube.target}",
        "target": cube.target,
        "time_standard": cube.time_standard,
        "sources": _dumps(list(cube.sources)),
        "history": _dumps(list(cube.history)),
        "problems": _dumps([[p.source, p.message, p.severity] for p in cube.problems]),
        "meta": _dumps(other_meta),
    }
    return xr.Dataset(data_vars=data_vars, coords=coords, attrs=attrs)


def from_xarray(dataset: "xarray.Dataset") -> "Cube":
    """A :class:`~stamp_engine.cube.Cube` from a dataset shaped like :func:`to_xarray`'s.

    Needs ``flux`` on dims (``time``, ``wavelength``); ``error`` (else NaN), units in
    ``attrs["units"]`` (wavelengths are converted to µm), the time coordinate's
    ``attrs["scale"]``/``attrs["format"]`` (default ``tdb``/``mjd``).  Anything else
    that :func:`to_xarray` writes is read back when present.

    Raises
    ------
    ValueError
        Naming what is missing or malformed.
    """
    from .cube import Cube
    from .problems import Problem

    if "flux" not in dataset.data_vars:
        raise ValueError("from_xarray: the dataset has no 'flux' variable")
    flux_var = dataset["flux"]
    if set(flux_var.dims) != {"time", "wavelength"}:
        raise ValueError(f"from_xarray: 'flux' has dims {flux_var.dims}, expected ('time', 'wavelength')")
    flux_var = flux_var.transpose("time", "wavelength")
    for name in ("time", "wavelength"):
        if name not in dataset.coords:
            raise ValueError(f"from_xarray: the dataset has no '{name}' coordinate")
    wave = dataset["wavelength"]
    wave_unit = u.Unit(wave.attrs.get("units", "um"))
    wavelength = (np.asarray(wave.values, dtype=np.float64) * wave_unit).to_value(u.um, equivalencies=u.spectral())
    time_coord = dataset["time"]
    scale = time_coord.attrs.get("scale", "tdb")
    time_format = time_coord.attrs.get("format", "mjd")
    if np.issubdtype(time_coord.dtype, np.datetime64):
        time = Time(time_coord.values, scale=scale)
    else:
        values = np.asarray(time_coord.values, dtype=np.float64)
        unit = u.Unit(time_coord.attrs.get("units", "d"))
        time = Time((values * unit).to_value(u.day), format=time_format, scale=scale)
    time.format = "mjd"
    flux_unit = u.Unit(flux_var.attrs.get("units", ""), parse_strict="warn")
    flux = np.array(flux_var.values, dtype=np.float64)
    if "error" in dataset.data_vars:
        error = np.array(dataset["error"].transpose("time", "wavelength").values, dtype=np.float64)
    else:
        error = np.full_like(flux, np.nan)
    rows = {name: np.asarray(dataset[name].values) for name in _ROW_FIELDS if name in dataset.coords}
    attrs = dataset.attrs
    meta = json.loads(attrs["meta"]) if "meta" in attrs else {}
    for name in dataset.coords:
        if str(name).startswith(_ROW_META_PREFIX) and dataset[name].dims[:1] == ("time",):
            meta[str(name)[len(_ROW_META_PREFIX):]] = np.asarray(dataset[name].values)
    reference = reference_unit = None
    if "reference" in dataset.data_vars:
        ref = dataset["reference"].transpose("reference_visit", "wavelength")
        reference = np.array(ref.values, dtype=np.float64)
        reference_unit = u.Unit(ref.attrs.get("units", ""), parse_strict="warn")
    return Cube(
        wavelength=wavelength,
        time=time,
        flux=flux,
        error=error,
        flux_unit=flux_unit,
        time_standard=str(attrs.get("time_standard") or time_coord.attrs.get("time_standard") or scale.upper()),
        visit=rows.get("visit"),
        integration=rows.get("integration"),
        source_index=rows.get("source_index"),
        sources=tuple(json.loads(attrs.get("sources", "[]"))),
        meta=meta,
        problems=tuple(Problem(*p) for p in json.loads(attrs.get("problems", "[]"))),
        reference=reference,
        reference_unit=reference_unit,
        history=tuple(json.loads(attrs.get("history", "[]"))),
    )


# ---------------------------------------------------------------------------- astropy
def to_timeseries(cube: "Cube") -> "TimeSeries":
    """One row per integration: the whole spectrum as an :class:`astropy.timeseries.TimeSeries`.

    Columns: ``time`` (:class:`~astropy.time.Time` in the cube's scale), ``hours``,
    ``visit``, ``integration``, and ``flux`` / ``error`` as 2-D quantity columns
    (n_int × n_wave) in the cube's unit.  ``meta["wavelength"]`` is the µm quantity
    the second axis of ``flux`` runs over; ``meta["time_standard"]`` names the standard.
    """
    from astropy.timeseries import TimeSeries

    series = TimeSeries(time=cube.time)
    series["hours"] = cube.hours * u.hour
    series["visit"] = np.asarray(cube.visit)
    series["integration"] = np.asarray(cube.integration)
    series["flux"] = cube.flux * cube.flux_unit
    series["error"] = cube.error * cube.flux_unit
    series["flux"].info.description = "variability, % of the reference" if cube.is_normalized else "flux"
    series["error"].info.description = "1-sigma error of flux"
    series.meta.update({
        "wavelength": cube.wavelength * u.um,
        "time_standard": cube.time_standard,
        "target": cube.target,
        "history": [str(step) for step in cube.history],  # plain text: ECSV/YAML cannot write HistoryStep
    })
    return series


def light_curve_timeseries(cube: "Cube", bands: Sequence["Band"] = ()) -> "TimeSeries":
    """White light and each band's light curve as one :class:`astropy.timeseries.TimeSeries`.

    The same columns as the light-curve ECSV of the download package
    (:func:`stamp_engine.export.light_curve_table`): ``time`` in the cube's scale,
    ``hours``, ``visit``, then ``<band>`` and ``<band>_err`` quantities in the cube's unit.
    """
    from astropy.timeseries import TimeSeries

    from .export import light_curve_table

    table = light_curve_table(cube.light_curves(bands), cube.time_standard)
    return TimeSeries(table, meta=table.meta)


# -------------------------------------------------------------------------- chromatic
def to_rainbow(cube: "Cube"):
    """The cube as a chromatic ``Rainbow`` (``pip install chromatic-lightcurves``).

    chromatic holds wavelength × time: ``flux`` is transposed, wavelengths are µm, and
    times are set with ``Rainbow.set_times_from_astropy`` (chromatic stores BJD_TDB-style
    Julian days, so the cube's times are converted to TDB; ``is_barycentric`` is taken
    from the time standard).  A normalized cube's variability ``v`` (%) becomes the
    relative flux ``1 + v/100`` chromatic expects (errors ÷ 100); ``metadata["stamp"]``
    records the conversion, the original unit and the time standard.  ``visit`` and
    ``integration`` are time-like arrays.

    Raises
    ------
    ImportError
        When chromatic-lightcurves is not installed.
    """
    chromatic = _require("chromatic", "Cube.to_rainbow", "pip install chromatic-lightcurves")
    if cube.is_normalized:
        flux, error = 1.0 + cube.flux / 100.0, cube.error / 100.0
        note = "flux = 1 + variability/100 (STAMP variability is in % of each visit's reference)"
    else:
        flux, error = cube.flux, cube.error
        note = f"flux in {_unit_text(cube.flux_unit)} as loaded"
    rainbow = chromatic.Rainbow(
        wavelength=cube.wavelength * u.um,
        time=cube.time.tdb.jd * u.day,
        flux=np.ascontiguousarray(flux.T),
        uncertainty=np.ascontiguousarray(error.T),
        name=cube.target,
        metadata={"stamp": {"flux": note, "flux_unit": _unit_text(cube.flux_unit),
                            "time_standard": cube.time_standard, "history": [str(step) for step in cube.history]}},
    )
    rainbow.set_times_from_astropy(cube.time, is_barycentric=cube.time_standard.startswith("BJD"))
    rainbow.timelike["visit"] = np.asarray(cube.visit)
    rainbow.timelike["integration"] = np.asarray(cube.integration)
    return rainbow
