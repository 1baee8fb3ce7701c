"""The cube in the astronomer's other tools: xarray, astropy TimeSeries, chromatic, astropy.io.fits + WCS.

Self-contained (no conftest fixtures): .ci/wheel-smoke also runs this file against the
installed wheel, with chromatic installed, so the Rainbow conversion is exercised there.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time

from stamp_engine import Band, Cube
from stamp_engine.export import read_cube_fits, write_cube_fits
from stamp_engine.problems import Problem

HAS_CHROMATIC = importlib.util.find_spec("chromatic") is not None


def awkward_cube(scale: str = "tdb", standard: str = "BJD_TDB") -> Cube:
    """Two visits, a non-uniform wavelength grid, NaN holes, a per-row flag, a problem."""
    rng = np.random.default_rng(7)
    n_int, n_wave = 23, 17
    wavelength = np.sort(rng.uniform(0.8, 5.2, n_wave))
    hours = np.r_[np.arange(12) * 0.05, 6.0 + np.arange(11) * 0.05]
    time = Time(60321.123456789, format="mjd", scale=scale) + hours * u.hour
    flux = rng.normal(10.0, 0.1, (n_int, n_wave))
    flux[3, 5] = np.nan
    flux[:, 9] = np.nan
    error = np.full_like(flux, 0.1)
    interpolated = np.zeros(n_int, dtype=bool)
    interpolated[4] = True
    return Cube(
        wavelength=wavelength, time=time, flux=flux, error=error, flux_unit=u.MJy,
        time_standard=standard, visit=np.r_[np.zeros(12), np.ones(11)].astype(np.int32),
        integration=np.arange(101, 101 + n_int, dtype=np.int64), source_index=np.zeros(n_int, dtype=np.int32),
        sources=("jw01234_seg001_x1dints.fits",),
        meta={"target": "WASP-Test", "instrument": "NIRSPEC", "interpolated": interpolated},
        problems=(Problem("jw01234_seg002_x1dints.fits", "is truncated", "error"),),
        history=("loaded",),
    )


def assert_same_cube(a: Cube, b: Cube) -> None:
    np.testing.assert_array_equal(a.wavelength, b.wavelength)
    np.testing.assert_array_equal(a.flux, b.flux)
    np.testing.assert_array_equal(a.error, b.error)
    assert a.flux_unit == b.flux_unit
    assert a.time.scale == b.time.scale
    assert np.max(np.abs((a.time - b.time).to_value(u.s))) < 1e-5  # MJD float64: µs precision
    assert a.time_standard == b.time_standard
    for name in ("visit", "integration", "source_index"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.sources == b.sources and a.history == b.history and a.problems == b.problems
    if a.reference is None:
        assert b.reference is None
    else:
        np.testing.assert_array_equal(a.reference, b.reference)
        assert a.reference_unit == b.reference_unit


# ------------------------------------------------------------------------------ xarray
def test_to_xarray_has_time_by_wavelength_with_units_and_time_scale():
    cube = awkward_cube()
    ds = cube.to_xarray()
    assert ds["flux"].dims == ("time", "wavelength")
    assert ds["flux"].shape == (23, 17)
    assert ds["flux"].attrs["units"] == "MJy"
    assert ds["wavelength"].attrs["units"] == "um"
    assert ds["time"].attrs == {**ds["time"].attrs, "scale": "tdb", "format": "mjd", "units": "d",
                                "time_standard": "BJD_TDB"}
    np.testing.assert_array_equal(ds["visit"].values, cube.visit)
    assert ds["visit"].dims == ("time",)
    # label-based selection works as an xarray user expects
    band = ds["flux"].sel(wavelength=slice(1.0, 2.0))
    assert band.sizes["wavelength"] == int(np.sum((cube.wavelength >= 1.0) & (cube.wavelength <= 2.0)))


@pytest.mark.parametrize("normalized", [False, True])
def test_xarray_round_trip_is_exact(normalized):
    cube = awkward_cube()
    if normalized:
        cube = cube.normalize("visit")
    back = Cube.from_xarray(cube.to_xarray())
    assert_same_cube(cube, back)
    np.testing.assert_array_equal(back.meta["interpolated"], cube.meta["interpolated"])
    assert back.meta["target"] == "WASP-Test"
    np.testing.assert_allclose(back.hours, cube.hours, atol=1e-8)


def test_xarray_round_trip_of_a_time_binned_cube_keeps_its_row_spans():
    # Binning in time records each output row's span of input rows (n × 2): a 2-D per-row
    # array, which xarray refuses as a coordinate on the single dim ``time``.
    cube = awkward_cube().bin(time=3)
    assert cube.meta["row_span"].ndim == 2
    ds = cube.to_xarray()
    assert ds["meta_row_span"].dims[0] == "time" and ds["meta_row_span"].ndim == 2
    back = Cube.from_xarray(ds)
    assert_same_cube(cube, back)
    np.testing.assert_array_equal(back.meta["row_span"], cube.meta["row_span"])


def test_xarray_round_trip_survives_netcdf(tmp_path):
    import xarray

    cube = awkward_cube().normalize("visit")
    path = tmp_path / "cube.nc"
    cube.to_xarray().to_netcdf(path, engine="scipy")  # SciPy is a core dependency: no netCDF library needed
    with xarray.open_dataset(path, engine="scipy") as ds:
        back = Cube.from_xarray(ds.load())
    assert_same_cube(cube, back)
    np.testing.assert_array_equal(back.meta["interpolated"].astype(bool), cube.meta["interpolated"])


def test_from_xarray_converts_wavelength_units_and_keeps_a_utc_scale():
    cube = awkward_cube(scale="utc", standard="MJD_UTC")
    ds = cube.to_xarray()
    ds = ds.assign_coords(wavelength=("wavelength", ds["wavelength"].values * 1000.0, {"units": "nm"}))
    ds = ds.transpose("wavelength", "time")  # dimension order is not part of the contract
    back = Cube.from_xarray(ds)
    np.testing.assert_allclose(back.wavelength, cube.wavelength, rtol=1e-15)
    assert back.time.scale == "utc" and back.time_standard == "MJD_UTC"
    np.testing.assert_array_equal(back.flux, cube.flux)


def test_from_xarray_says_what_is_missing():
    ds = awkward_cube().to_xarray()
    with pytest.raises(ValueError, match="no 'flux' variable"):
        Cube.from_xarray(ds.drop_vars("flux"))
    with pytest.raises(ValueError, match="dims"):
        Cube.from_xarray(ds.rename({"wavelength": "lam"}))


@pytest.mark.parametrize("module, method, install", [
    ("xarray", "to_xarray", "pip install 'stamp[interop]'"),
    ("chromatic", "to_rainbow", "pip install chromatic-lightcurves"),
])
def test_a_missing_optional_library_is_named_with_its_install_command(module, method, install):
    # A child interpreter in which importing the library fails, as on a machine without it.
    code = (
        f"import sys; sys.modules[{module!r}] = None\n"
        "from stamp_engine import Cube\n"
        "import numpy as np, astropy.units as u\n"
        "from astropy.time import Time\n"
        "cube = Cube(wavelength=np.array([1.0, 2.0]), time=Time([60000.0], format='mjd', scale='tdb'),\n"
        "            flux=np.ones((1, 2)), error=np.ones((1, 2)), flux_unit=u.Jy)\n"
        "try:\n"
        f"    cube.{method}()\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert f"Cube.{method} needs {module}" in out.stdout and install in out.stdout, out.stdout + out.stderr


# --------------------------------------------------------------------------- TimeSeries
def test_to_timeseries_has_the_cube_time_scale_and_flux_units():
    from astropy.timeseries import TimeSeries

    cube = awkward_cube()
    series = cube.to_timeseries()
    assert isinstance(series, TimeSeries)
    assert isinstance(series.time, Time) and series.time.scale == "tdb"
    np.testing.assert_array_equal(series.time.mjd, cube.time.mjd)
    assert series["flux"].unit == u.MJy and series["flux"].shape == (23, 17)
    np.testing.assert_array_equal(series["flux"].value, cube.flux)
    np.testing.assert_array_equal(series["error"].value, cube.error)
    assert series["hours"].unit == u.hour
    np.testing.assert_array_equal(series["visit"], cube.visit)
    np.testing.assert_array_equal(series.meta["wavelength"].to_value(u.um), cube.wavelength)
    assert series.meta["time_standard"] == "BJD_TDB"


def test_light_curve_timeseries_matches_the_light_curves():
    from astropy.timeseries import TimeSeries

    cube = awkward_cube(scale="utc", standard="MJD_UTC").normalize("visit")
    bands = [Band("H2O", 1.3, 2.0), Band("CO", 4.4, 5.0)]
    series = cube.light_curve_timeseries(bands)
    assert isinstance(series, TimeSeries) and series.time.scale == "utc"
    curves = cube.light_curves(bands)
    for column, curve in zip(("white_light", "H2O", "CO"), curves):
        assert series[column].unit == u.percent
        np.testing.assert_array_equal(series[column].value, curve.value)
        np.testing.assert_array_equal(series[f"{column}_err"].value, curve.error)
    # a TimeSeries operation: fold-free selection by time works on the time column
    late = series[series.time > cube.time[11]]
    assert len(late) == 11 and set(np.asarray(late["visit"])) == {1}


# ----------------------------------------------------------------------------- chromatic
def test_to_rainbow_converts_or_says_what_to_install():
    cube = awkward_cube().normalize("visit")
    if not HAS_CHROMATIC:
        with pytest.raises(ImportError, match="Cube.to_rainbow needs chromatic.*pip install chromatic-lightcurves"):
            cube.to_rainbow()
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rainbow = cube.to_rainbow()
    assert (rainbow.nwave, rainbow.ntime) == (17, 23)
    np.testing.assert_allclose(rainbow.wavelength.to_value(u.um), cube.wavelength)
    np.testing.assert_allclose(np.asarray(rainbow.flux), 1.0 + cube.flux.T / 100.0, equal_nan=True)
    np.testing.assert_allclose(np.asarray(rainbow.uncertainty), cube.error.T / 100.0, equal_nan=True)
    np.testing.assert_allclose(rainbow.time.to_value(u.day), cube.time.tdb.jd, rtol=0, atol=1e-9)
    assert rainbow.metadata["time_scale"] == "tdb" and rainbow.metadata["time_is_barycentric"] is True
    np.testing.assert_array_equal(rainbow.timelike["visit"], cube.visit)


# ---------------------------------------------------------------------------------- FITS
def test_fits_cube_has_wcs_axes_astropy_reads(tmp_path):
    from astropy.wcs import WCS

    cube = awkward_cube()
    path = write_cube_fits(cube, tmp_path / "cube.fits")
    with fits.open(path) as hdul:
        header = hdul["FLUX"].header
        assert (header["CTYPE1"], header["CUNIT1"]) == ("WAVE-TAB", "um")
        assert header["CTYPE2"] == "TIME-TAB" and header["TIMESYS"] == "TDB"
        assert u.Unit(header["BUNIT"], format="fits") == u.MJy
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # astropy notes it cannot place a barycentric Time on Earth
            wcs = WCS(header, fobj=hdul)
            columns = np.array([0, 4, 16])
            rows = np.array([0, 12, 22])
            wave, when = wcs.pixel_to_world(columns, rows)
        np.testing.assert_allclose(wave.to_value(u.um), cube.wavelength[columns], rtol=1e-12)
        assert when.scale == "tdb"
        np.testing.assert_allclose((when - cube.time[rows]).to_value(u.s), 0.0, atol=1e-3)
    assert_same_cube(cube, read_cube_fits(path))
