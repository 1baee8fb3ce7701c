"""Synthetic Eureka! files of every variant: the injected signal comes back through the reader."""

from __future__ import annotations

import astropy.units as u
import h5py
import numpy as np
import pytest

from stamp_engine.io.formats.eureka import flux_unit_from_text, identify
from stamp_engine.io.registry import HDF5_MAGIC, read
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.eureka import (
    ELECTRONS_PER_JY,
    binned_model,
    write_eureka_s3,
    write_eureka_s4_lc,
)

N_INT = 200
WAVELENGTH = np.linspace(0.8, 5.2, 150)


@pytest.fixture(scope="module")
def transit():
    return make_observation("transit", n_integrations=N_INT, wavelength=WAVELENGTH, nan_columns=(5,), seed=3)


@pytest.fixture(scope="module")
def variability():
    return make_observation("variability", n_integrations=N_INT, wavelength=WAVELENGTH, seed=4)


def _only(blocks, element=""):
    matching = [b for b in blocks if b.element == element]
    assert len(matching) == 1, [b.element for b in blocks]
    return matching[0]


def _ascending(block):
    """Block arrays with columns sorted by wavelength (the reader keeps file order)."""
    order = np.argsort(block.wavelength)
    return (np.asarray(block.wavelength, dtype=float)[order],
            np.asarray(block.flux, dtype=float)[:, order],
            np.asarray(block.error, dtype=float)[:, order])


def recovered_depth(obs, flux):
    """Transit depth per column: 1 − (flat-bottom mean / out-of-transit mean), and its 1-σ."""
    out = np.all(obs.model == 1.0, axis=1)
    bottom = np.isclose(obs.model[:, 0], obs.model[:, 0].min())
    with np.errstate(invalid="ignore"):
        depth = 1.0 - flux[bottom].mean(axis=0) / flux[out].mean(axis=0)
    sigma = np.sqrt(1.0 / bottom.sum() + 1.0 / out.sum()) / obs.truth["snr"]
    return depth, sigma


def recovered_amplitude(obs, flux):
    """Semi-amplitude per column from a least-squares sinusoid at the known period, and its 1-σ."""
    angle = 2 * np.pi * obs.hours / obs.truth["period_hours"]
    design = np.column_stack([np.ones_like(angle), np.sin(angle), np.cos(angle)])
    coef, *_ = np.linalg.lstsq(design, flux, rcond=None)
    amplitude = np.hypot(coef[1], coef[2]) / coef[0]
    sigma = np.sqrt(2.0 / obs.n_integrations) / obs.truth["snr"]
    return amplitude, sigma


def assert_within_noise(estimate, truth, sigma, inflate=1.0):
    finite = np.isfinite(estimate)
    assert finite.sum() >= 0.9 * estimate.size
    pull = (estimate[finite] - truth[finite]) / (sigma * inflate)
    assert np.max(np.abs(pull)) < 5.5, np.max(np.abs(pull))
    assert abs(np.mean(pull)) < 5.0 / np.sqrt(pull.size)  # no bias
    # the signal itself is detected, not just noise around zero
    assert np.all(truth[finite] > 10 * sigma * inflate)


# ---------------------------------------------------------------------------
# every variant: values and signal


@pytest.mark.parametrize("variant", ["v1", "2022", "calibrated-keys", "plain-keys"])
def test_transit_depth_recovered_per_wavelength(tmp_path, transit, variant):
    path = write_eureka_s3(tmp_path / f"S3_{variant}_SpecData.h5", transit, variant=variant)
    block = _only(read(path))
    wavelength, flux, error = _ascending(block)
    np.testing.assert_allclose(wavelength, WAVELENGTH, rtol=1e-6)
    depth, sigma = recovered_depth(transit, flux)
    assert np.isnan(depth[5])  # the injected NaN column stays NaN
    assert_within_noise(depth, transit.truth["depth"], sigma)
    # errors are 1-σ in the flux unit: stdvar was square-rooted, opterr taken as is
    good = np.isfinite(flux).all(axis=0)
    relative = np.median(error[:, good] / flux[:, good], axis=0)
    np.testing.assert_allclose(relative, 1.0 / transit.truth["snr"], rtol=0.05)


def test_variability_amplitude_recovered_per_wavelength(tmp_path, variability):
    path = write_eureka_s3(tmp_path / "S3_var_SpecData.h5", variability, flux_units="mJy", compression="gzip")
    block = _only(read(path))
    assert block.flux_unit == u.mJy
    amplitude, sigma = recovered_amplitude(variability, np.asarray(block.flux, dtype=float))
    assert_within_noise(amplitude, variability.truth["amplitude"], sigma)


def test_descending_columns_are_kept_in_file_order(tmp_path, transit):
    path = write_eureka_s3(tmp_path / "desc.h5", transit, descending=True)
    block = _only(read(path))
    assert np.all(np.diff(block.wavelength) < 0)
    np.testing.assert_allclose(np.asarray(block.flux[:, ::-1], dtype=float),
                               transit.flux * ELECTRONS_PER_JY, rtol=1e-6)
    depth, sigma = recovered_depth(transit, _ascending(block)[1])
    assert_within_noise(depth, transit.truth["depth"], sigma)
    with h5py.File(path) as h5:
        assert np.all(np.diff(h5["x"][()]) < 0)  # MIRI-like: x runs backwards


def test_soss_orders_become_one_block_per_order(tmp_path, transit):
    path = write_eureka_s3(tmp_path / "soss.h5", transit, variant="soss-orders", descending=True)
    blocks = read(path)
    assert sorted(b.element for b in blocks) == ["order 1", "order 2"]
    order1, order2 = _only(blocks, "order 1"), _only(blocks, "order 2")
    assert order1.flux.shape == (N_INT, WAVELENGTH.size)
    m = int(0.6 * WAVELENGTH.size)
    assert order2.flux.shape == (N_INT, m)  # NaN-padded columns dropped
    assert any("without a wavelength" in n and "order 2" in n for n in order2.notes)
    assert order1.meta["instrument"] == "NIRISS"
    for block, columns in ((order1, slice(None)), (order2, slice(0, m))):
        wavelength, flux, _ = _ascending(block)
        np.testing.assert_allclose(wavelength, WAVELENGTH[columns], rtol=1e-6)
        depth, sigma = recovered_depth(transit, flux)
        assert_within_noise(depth, transit.truth["depth"][columns], sigma)
    # order 2 is the fainter trace
    assert np.nanmedian(order2.flux) < np.nanmedian(order1.flux)


def test_photometry_variant_is_refused(tmp_path, transit):
    path = write_eureka_s3(tmp_path / "phot.h5", transit, variant="photometry")
    with h5py.File(path) as h5:
        assert "aplev" in h5 and "optspec" not in h5
    with pytest.raises(Exception) as info:
        read(path)
    assert "photometry (aplev), not spectroscopy" in str(info.value)


@pytest.mark.parametrize("white", [True, False])
def test_s4_light_curves_recover_the_binned_signal(tmp_path, transit, white):
    channels = [(0.8, 1.5), (1.5, 2.5), (2.5, 4.0), (4.0, 5.2)]
    path = write_eureka_s4_lc(tmp_path / "S4_LCData.h5", transit, channels, white=white)
    block = _only(read(path))
    assert block.layout == "eureka-s4"
    assert block.flux.shape == (N_INT, 4)  # flux_white is never a channel
    np.testing.assert_allclose(block.wavelength, [1.15, 2.0, 3.25, 4.6])
    assert block.meta["wave_low"] == pytest.approx([c[0] for c in channels])
    assert block.meta["wave_hi"] == pytest.approx([c[1] for c in channels])
    with h5py.File(path) as h5:
        assert ("flux_white" in h5) is white
        assert h5["data"].shape == (4, N_INT)
    expected = binned_model(transit, channels)
    out = np.all(transit.model == 1.0, axis=1)
    relative = block.flux / block.flux[out].mean(axis=0)
    # channel noise: per-column noise averaged over the channel's columns
    n_cols = np.array([np.count_nonzero((WAVELENGTH >= lo) & (WAVELENGTH < hi)) for lo, hi in channels])
    sigma = 1.0 / transit.truth["snr"] / np.sqrt(n_cols - 1)
    pull = (relative - expected) / sigma
    assert np.max(np.abs(pull)) < 5.5
    depth = 1 - expected.min(axis=0)
    assert np.all(depth > 0.014)  # the transit is in the light curves
    # err = sqrt(Σσ²)/N
    np.testing.assert_allclose(np.median(block.error / block.flux, axis=0), sigma, rtol=0.1)


# ---------------------------------------------------------------------------
# units and time labels


@pytest.mark.parametrize("flux_units,unit,factor", [
    ("ELECTRONS", u.electron, ELECTRONS_PER_JY),
    ("mJy", u.mJy, 1e3),
    ("Jy", u.Jy, 1.0),
    ("DN/s", u.DN / u.s, 1.0),
])
def test_flux_units_from_attributes(tmp_path, transit, flux_units, unit, factor):
    path = write_eureka_s3(tmp_path / "units.h5", transit, flux_units=flux_units)
    block = _only(read(path))
    assert block.flux_unit == unit
    assert "flux_unit_assumed" not in block.meta
    np.testing.assert_allclose(np.asarray(block.flux, dtype=float), transit.flux * factor, rtol=1e-6)


@pytest.mark.parametrize("text,unit", [
    ("ELECTRONS", u.electron), ("electrons", u.electron), ("ELECTRONS/S", u.electron / u.s),
    ("DN/S", u.DN / u.s), ("MJy/sr", u.MJy / u.sr), ("uJy", u.uJy), ("W/m2/um", u.W / u.m**2 / u.um),
])
def test_flux_unit_strings(text, unit):
    parsed, assumed, note = flux_unit_from_text(text)
    assert parsed == unit and not assumed and note is None


@pytest.mark.parametrize("flux_units,note", [
    (None, "does not record flux units"),
    ("furlongs per fortnight", "not a unit STAMP understands"),
])
def test_missing_or_unknown_flux_units_are_flagged(tmp_path, transit, flux_units, note):
    path = write_eureka_s3(tmp_path / "nounits.h5", transit, flux_units=flux_units)
    block = _only(read(path))
    assert block.flux_unit == u.dimensionless_unscaled
    assert block.meta["flux_unit_assumed"] is True
    assert any(note in n for n in block.notes)


@pytest.mark.parametrize("time_units,full_jd,standard,note", [
    ("BMJD_TDB", False, "BJD_TDB", None),
    ("BJD_TDB", False, "BJD_TDB", "time_units says BJD_TDB but values are MJD-like (~60200): read as BMJD_TDB"),
    ("BJD_TDB", True, "BJD_TDB", "full Julian Dates"),
    ("HJD_UTC", False, "HJD_UTC", None),
    ("HJD_UTC", True, "HJD_UTC", "full Julian Dates"),
    ("MJD_UTC", False, "MJD_UTC", None),
    (None, False, "BJD_TDB (assumed)", "does not say which time standard"),
    (None, True, "BJD_TDB (assumed)", "full Julian Dates, converted to MJD-style"),
    ("days since launch", False, "BJD_TDB (assumed)", "not a time standard STAMP knows"),
])
def test_time_units(tmp_path, transit, time_units, full_jd, standard, note):
    path = write_eureka_s3(tmp_path / "time.h5", transit, time_units=time_units, full_jd=full_jd)
    block = _only(read(path))
    assert block.time_standard == standard
    np.testing.assert_allclose(block.time_mjd, transit.time_bjd_tdb, rtol=0, atol=1e-8)
    if note is None:
        assert block.notes == []
    else:
        assert any(note in n for n in block.notes), block.notes


def test_2022_variant_notes_the_label_correction_without_options(tmp_path, transit):
    block = _only(read(write_eureka_s3(tmp_path / "old.h5", transit, variant="2022")))
    assert block.time_standard == "BJD_TDB"
    assert block.notes == ["time_units says BJD_TDB but values are MJD-like (~60200): read as BMJD_TDB"]
    assert block.flux.dtype == np.float64


# ---------------------------------------------------------------------------
# flat keys of the original STAMP reader


@pytest.mark.parametrize("time_key", ["time", "bmjd", "mjd", "bjd", "time_bjd", "time_mjd"])
@pytest.mark.parametrize("wave_key", ["wavelength", "wave", "wave_1d", "eureka_wave_1d"])
def test_flat_time_and_wavelength_aliases(tmp_path, transit, time_key, wave_key):
    path = write_eureka_s3(tmp_path / "flat.h5", transit, variant="plain-keys",
                           keys={"time": time_key, "wave": wave_key})
    block = _only(read(path))
    assert block.layout == "hdf5-keys"
    np.testing.assert_allclose(block.time_mjd, transit.time_bjd_tdb, rtol=0, atol=1e-8)
    np.testing.assert_allclose(block.wavelength, WAVELENGTH)
    assert block.time_standard == "BJD_TDB (assumed)"
    assert any(repr(time_key) in n for n in block.notes)


@pytest.mark.parametrize("flux_key,error_key,expected_error", [
    ("stdspec", "stdvar", "sqrt"),
    ("stdspec", "error", "sigma"),
    ("optspec", "flux_error", "sigma"),
    ("calibrated_optspec", "calibrated_opterr", "sigma"),
    ("calibrated_optspec", "sigma", "sigma"),
    ("flux", "error", "sigma"),
])
def test_flat_flux_and_error_aliases(tmp_path, transit, flux_key, error_key, expected_error):
    path = write_eureka_s3(tmp_path / "flat.h5", transit, variant="plain-keys", float32=False,
                           keys={"flux": flux_key, "error": error_key})
    with h5py.File(path) as h5:
        stored = h5[error_key][()]
    block = _only(read(path))
    assert block.meta["flux_dataset"] == flux_key
    expected = np.sqrt(stored) if expected_error == "sqrt" else stored
    np.testing.assert_allclose(block.error, expected)
    np.testing.assert_allclose(block.error, transit.error * ELECTRONS_PER_JY, rtol=1e-9)
    assert block.meta["flux_unit_assumed"] is True


def test_calibrated_keys_note_the_assumed_units(tmp_path, transit):
    block = _only(read(write_eureka_s3(tmp_path / "cal.h5", transit, variant="calibrated-keys")))
    assert block.meta["flux_dataset"] == "calibrated_optspec"
    np.testing.assert_allclose(np.asarray(block.flux, dtype=float), transit.flux, rtol=1e-6)  # Jy values
    assert any("often in Jy" in n for n in block.notes)


def test_flat_flux_stored_wavelength_by_time_is_transposed(tmp_path, transit):
    path = tmp_path / "transposed.h5"
    with h5py.File(path, "w") as h5:
        h5["calibrated_optspec"] = transit.flux.T
        h5["calibrated_opterr"] = transit.error.T
        h5["eureka_wave_1d"] = WAVELENGTH
        h5["time"] = transit.time_bjd_tdb
    block = _only(read(path))
    assert block.flux.shape == (N_INT, WAVELENGTH.size)
    np.testing.assert_array_equal(block.flux, transit.flux)
    assert any("transposed" in n for n in block.notes)


def test_box_spectrum_fallback_says_so(tmp_path, transit):
    path = write_eureka_s3(tmp_path / "v1.h5", transit)
    with h5py.File(path, "a") as h5:
        for key in ("optspec", "opterr"):
            del h5[key]
    block = _only(read(path))
    assert block.meta["flux_dataset"] == "stdspec"
    assert any("box spectrum stdspec" in n and "√stdvar" in n for n in block.notes)
    depth, sigma = recovered_depth(transit, _ascending(block)[1])
    assert_within_noise(depth, transit.truth["depth"], sigma, np.sqrt(1.25))


# ---------------------------------------------------------------------------
# the written structure is Eureka's


def test_v1_file_has_eureka_structure(tmp_path, transit):
    path = write_eureka_s3(tmp_path / "S3_v1.h5", transit, root_attrs={"target": "WASP-39"})
    with h5py.File(path) as h5:
        assert h5.attrs["data_format"] == "eureka"
        assert h5.attrs["inst"] == "nirspec"
        assert h5.attrs["version"] == "1.4"
        assert h5["time"].attrs["CLASS"] == b"DIMENSION_SCALE"
        assert h5["time"].attrs["NAME"] == b"time"
        assert h5["time"].dtype == np.dtype(">f8")
        assert [d[0].name for d in h5["optspec"].dims] == ["/time", "/x"]
        assert [d[0].name for d in h5["medflux"].dims] == ["/y", "/x"]
        assert h5["optspec"].dtype == np.float32
        assert np.isnan(h5["optspec"].attrs["_FillValue"][0])
        assert h5["optspec"].attrs["flux_units"] == "ELECTRONS"
        assert h5["optspec"].attrs["time_units"] == "BMJD_TDB"
        assert h5["wave_1d"].attrs["wave_units"] == "microns"
        assert h5["optmask"].dtype == np.int8
        assert h5["optmask"].attrs["dtype"] == "bool"
        np.testing.assert_array_equal(h5["optmask"][()][:, 5], 1)  # the NaN column is masked
        head = path.read_bytes()[:4096]
    assert head.startswith(HDF5_MAGIC)
    assert identify(path, head)
    block = _only(read(path))
    assert block.meta["target"] == "WASP-39"
    assert block.bad[:, 5].all() and not block.bad[:, 6].any()


def test_gzip_compressed_demo_file_reads_identically(tmp_path, variability):
    plain = write_eureka_s3(tmp_path / "plain.h5", variability, flux_units="mJy")
    packed = write_eureka_s3(tmp_path / "packed.h5", variability, flux_units="mJy", compression="gzip")
    with h5py.File(packed) as h5:
        assert h5["optspec"].compression == "gzip"
    a, b = _only(read(plain)), _only(read(packed))
    np.testing.assert_array_equal(a.flux, b.flux)
    np.testing.assert_array_equal(a.error, b.error)
    np.testing.assert_array_equal(a.time_mjd, b.time_mjd)
    assert b.flux_unit == u.mJy


def test_float64_and_nan_wavelength_columns(tmp_path, transit):
    path = write_eureka_s3(tmp_path / "f64.h5", transit, float32=False, nan_wave_columns=(0, 1, 149))
    block = _only(read(path))
    assert block.flux.dtype == np.float64
    assert block.flux.shape == (N_INT, WAVELENGTH.size - 3)
    np.testing.assert_array_equal(block.wavelength, WAVELENGTH[2:149])
    np.testing.assert_array_equal(block.flux, transit.flux[:, 2:149] * ELECTRONS_PER_JY)
    assert "3 column(s) without a wavelength (NaN in wave_1d) were dropped" in block.notes
