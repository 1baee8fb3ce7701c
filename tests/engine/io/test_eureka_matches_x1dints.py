"""One observation written as a JWST x1dints file and as Eureka! files loads as the same cube.

Every Eureka trap (FORMATS.md §8, 10) against the x1dints reading of the same numbers: S3
``(time, x)`` vs S4 ``(wavelength, time)``, ``opterr`` as σ, ``optmask`` int8 on disk,
``wave_1d`` with NaN, ``x`` not 0-based and running backwards (MIRI LRS), ``time_units``
BMJD_TDB or BJD_TDB for the same MJD-like numbers, float32 or float64, electrons or mJy.
"""

from __future__ import annotations

import astropy.units as u
import h5py
import numpy as np
import pytest

import stamp_engine
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.eureka import ELECTRONS_PER_JY, write_eureka_s3, write_eureka_s4_lc
from stamp_engine.synthetic.x1dints import write_x1dints

WAVELENGTH = np.linspace(5.0, 12.0, 80)
MIRI = {"instrument": "MIRI", "detector": "MIRIMAGE", "exp_type": "MIR_LRS-SLITLESS", "filter": "P750L"}
NAN_COLUMN = 7


@pytest.fixture(scope="module")
def observation():
    return make_observation("transit", 120, WAVELENGTH, nan_columns=(NAN_COLUMN,), seed=5, meta=MIRI, snr=800)


@pytest.fixture(scope="module")
def reference(observation, tmp_path_factory):
    path = tmp_path_factory.mktemp("x1d") / "jw09999001001_04103_00001-seg001_mirimage_x1dints.fits"
    return stamp_engine.load([write_x1dints(path, observation, stage=3, descending=True)])


def windows(obs):
    first, last = obs.truth["visit_bounds_hours"][0]
    span = last - first
    mid = first + span / 2
    return (mid - 0.15 * span, mid + 0.15 * span), [(first, mid - 0.21 * span), (mid + 0.21 * span, last)]


def in_jansky(cube) -> tuple[np.ndarray, np.ndarray]:
    if cube.flux_unit == u.electron:
        return cube.flux / ELECTRONS_PER_JY, cube.error / ELECTRONS_PER_JY
    factor = (1 * cube.flux_unit).to_value(u.Jy)
    return cube.flux * factor, cube.error * factor


@pytest.mark.parametrize("options", [
    {},
    {"descending": True},  # MIRI LRS: wavelength descending in the file, x counting backwards
    {"variant": "2022"},  # time_units 'BJD_TDB' on the same MJD-like numbers, float64 optspec
    {"time_units": "BJD_TDB"},
    {"float32": False},
    {"flux_units": "mJy"},
], ids=["v1", "miri-backwards", "2022-bjd-label", "bjd-label", "float64", "mJy"])
def test_eureka_s3_gives_the_x1dints_cube_times_and_depths(tmp_path, observation, reference, options):
    cube = stamp_engine.load([write_eureka_s3(tmp_path / "S3_wasp_ap3_bg7_SpecData.h5", observation, **options)])
    assert cube.flux.shape == reference.flux.shape == (120, 80)
    np.testing.assert_allclose(cube.wavelength, reference.wavelength, rtol=1e-6)
    assert cube.time_standard == reference.time_standard == "BJD_TDB" and cube.time.scale == "tdb"
    np.testing.assert_allclose((cube.time.tdb.mjd - reference.time.tdb.mjd) * 86400, 0, atol=1e-3)  # < 1 ms
    flux, error = in_jansky(cube)
    np.testing.assert_array_equal(np.isnan(flux), np.isnan(reference.flux))
    assert np.isnan(flux[:, NAN_COLUMN]).all()
    np.testing.assert_allclose(flux, reference.flux, rtol=2e-7)  # float32 on disk
    np.testing.assert_allclose(error, reference.error, rtol=2e-7)  # opterr is σ, not a variance
    spectrum, expected = cube.transmission_spectrum(*windows(observation)), reference.transmission_spectrum(*windows(observation))
    np.testing.assert_allclose(spectrum.depth.to_value(u.one), expected.depth.to_value(u.one), rtol=0, atol=1e-7)
    np.testing.assert_allclose(spectrum.error.to_value(u.one), expected.error.to_value(u.one), rtol=1e-6)
    pull = (expected.depth.to_value(u.one) - observation.truth["depth"]) / expected.error.to_value(u.one)
    assert np.nanmax(np.abs(pull)) < 5 and abs(np.nanmean(pull)) < 4 / np.sqrt(79)


def test_optmask_int8_flags_finite_outliers_and_a_nan_wavelength_drops_its_column_with_a_note(
        tmp_path, observation, reference):
    path = write_eureka_s3(tmp_path / "S3_wasp_ap3_bg7_SpecData.h5", observation, descending=True,
                           nan_wave_columns=(0,))
    hit = [(10, 40), (61, 40), (62, 12)]  # file rows, file columns (file column 0 has no wavelength)
    with h5py.File(path, "a") as h5:
        assert h5["optmask"].dtype == np.int8 and h5["optmask"].attrs["dtype"] == "bool"
        spec, mask = h5["optspec"][...], h5["optmask"][...]
        for row, col in hit:
            spec[row, col] *= 50.0  # a cosmic ray the pipeline flagged
            mask[row, col] = 1
        h5["optspec"][...], h5["optmask"][...] = spec, mask
    cube = stamp_engine.load([path])
    assert cube.n_wavelengths == 79  # the reddest (file column 0 of a descending file) is dropped, and said so
    assert any("1 column(s)" in note and "NaN in wave_1d" in note for note in _notes(cube))
    np.testing.assert_allclose(cube.wavelength, reference.wavelength[:-1], rtol=1e-6)
    flux, _ = in_jansky(cube)
    expected = reference.flux[:, :-1].copy()
    for row, col in hit:  # file column c of a descending 80-column file is ascending column 79 − c
        expected[row, 79 - col] = np.nan
    np.testing.assert_array_equal(np.isnan(flux), np.isnan(expected))
    np.testing.assert_allclose(flux, expected, rtol=2e-7)


def test_eureka_s4_light_curves_are_time_by_channel_on_the_x1dints_clock(tmp_path, observation, reference):
    channels = [(5.0, 6.5), (6.5, 8.5), (8.5, 10.5), (10.5, 12.01)]
    clean = make_observation("transit", 120, WAVELENGTH, seed=5, meta=MIRI, snr=800)
    for units in ("BMJD_TDB", "BJD_TDB"):
        path = write_eureka_s4_lc(tmp_path / f"S4_wasp_ap3_bg7_{units}_LCData.h5", clean, channels, time_units=units)
        with h5py.File(path) as h5:
            assert h5["data"].shape == (4, 120)  # (wavelength, time) on disk
        cube = stamp_engine.load([path])
        assert cube.flux.shape == (120, 4) and cube.time_standard == "BJD_TDB"
        np.testing.assert_allclose((cube.time.tdb.mjd - reference.time.tdb.mjd) * 86400, 0, atol=1e-3)
        spectrum = cube.transmission_spectrum(*windows(clean))
        # Eureka's channel = plain mean of the columns, so its depth is the column-mean-weighted truth
        source = np.nanmedian(clean.flux, axis=0)
        truth = [np.sum((clean.truth["depth"] * source)[m]) / np.sum(source[m])
                 for m in ((WAVELENGTH >= lo) & (WAVELENGTH < hi) for lo, hi in channels)]
        pull = (spectrum.depth.to_value(u.one) - truth) / spectrum.error.to_value(u.one)
        assert np.max(np.abs(pull)) < 4, pull


def _notes(cube) -> list[str]:
    found = []
    for entry in cube.meta.get("files", []):
        found += [str(n) for n in entry.get("notes", [])]
    return found + [str(n) for n in cube.meta.get("notes", [])]
