"""Eureka! files through stamp_engine.load: the injected signal survives into the cube."""

from __future__ import annotations


import astropy.units as u
import numpy as np
import pytest

import stamp_engine
from stamp_engine.problems import NoUsableData
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.eureka import binned_model, write_eureka_s3, write_eureka_s4_lc

from tests.engine.io.test_eureka_synthetic import assert_within_noise, recovered_amplitude, recovered_depth

from tests.helpers.paths import REAL as REAL_DATA

REAL = REAL_DATA / "eureka"
WAVELENGTH = np.linspace(0.8, 5.2, 150)


@pytest.fixture(scope="module")
def transit():
    return make_observation("transit", n_integrations=200, wavelength=WAVELENGTH, seed=21)


def test_transit_depth_survives_load_of_a_descending_file(tmp_path, transit):
    path = write_eureka_s3(tmp_path / "S3_desc_SpecData.h5", transit, descending=True)
    cube = stamp_engine.load([path])
    assert cube.flux.shape == (200, 150)
    assert cube.flux.dtype == np.float64
    np.testing.assert_allclose(cube.wavelength, WAVELENGTH, rtol=1e-6)  # sorted ascending
    assert cube.flux_unit == u.electron
    assert cube.time_standard == "BJD_TDB"
    assert cube.time.scale == "tdb"
    np.testing.assert_allclose(cube.time.mjd, transit.time_bjd_tdb, rtol=0, atol=1e-8)
    assert cube.meta["pipeline"] == "Eureka! 1.4"
    assert cube.meta["instrument"] == "NIRSPEC"
    assert cube.meta["files"][0]["layout"] == "eureka-s3"
    depth, sigma = recovered_depth(transit, cube.flux)
    assert_within_noise(depth, transit.truth["depth"], sigma)


def test_demo_path_mjy_gzip_two_visits(tmp_path):
    obs = make_observation("variability", n_integrations=300, n_visits=2, wavelength=WAVELENGTH, seed=5)
    path = write_eureka_s3(tmp_path / "demo_SpecData.h5", obs, flux_units="mJy", compression="gzip")
    cube = stamp_engine.load([path])
    assert cube.flux_unit == u.mJy
    assert sorted(set(cube.visit.tolist())) == [0, 1]
    np.testing.assert_allclose(cube.flux, obs.flux * 1e3, rtol=1e-6)
    first = cube.visit == 0
    visit = obs.take(first)
    amplitude, sigma = recovered_amplitude(visit, cube.flux[first])
    assert_within_noise(amplitude, obs.truth["amplitude"], sigma)
    assert cube.problems == ()


def test_soss_orders_choice(tmp_path, transit):
    path = write_eureka_s3(tmp_path / "soss.h5", transit, variant="soss-orders", descending=True)
    first = stamp_engine.load([path])
    assert first.meta["element_used"] == "order 1"
    assert first.meta["elements_available"] == ["order 1", "order 2"]
    assert first.wavelength.size == 150
    second = stamp_engine.load([path], order=2)
    m = int(0.6 * 150)
    np.testing.assert_allclose(second.wavelength, WAVELENGTH[:m], rtol=1e-6)
    depth, sigma = recovered_depth(transit, second.flux)
    assert_within_noise(depth, transit.truth["depth"][:m], sigma)


def test_light_curve_file_loads_as_channels(tmp_path, transit):
    channels = [(0.8, 2.0), (2.0, 3.5), (3.5, 5.2)]
    path = write_eureka_s4_lc(tmp_path / "S4_LCData.h5", transit, channels)
    cube = stamp_engine.load([path])
    np.testing.assert_allclose(cube.wavelength, [1.4, 2.75, 4.35])
    out = np.all(transit.model == 1.0, axis=1)
    relative = cube.flux / cube.flux[out].mean(axis=0)
    n_cols = np.array([np.count_nonzero((WAVELENGTH >= lo) & (WAVELENGTH < hi)) for lo, hi in channels])
    sigma = 1.0 / transit.truth["snr"] / np.sqrt(n_cols - 1)
    expected = binned_model(transit, channels)
    assert np.max(np.abs(relative - expected) / sigma) < 5.5
    assert np.all(1 - expected.min(axis=0) > 100 * sigma)  # the transit is far above the noise


def test_real_s3_and_s4_specdata_of_one_run_are_not_doubled():
    cube = stamp_engine.load([REAL / "tests_data" / "S3_NIRSpec_ap5_bg10_SpecData.h5",
                              REAL / "regression_refs" / "Stage4" / "nirspec_spectroscopy" / "SpecData.h5"])
    assert cube.flux.shape == (24, 511)
    # S4 rewrites the spectra after drift correction, here with a newer Eureka!: one of the two is used
    assert cube.sources == ("SpecData.h5",)
    assert any(p.source == "S3_NIRSpec_ap5_bg10_SpecData.h5" and "another reduction of the same integrations"
               in p.message and "Eureka! 1.5.dev24+g45abe7c80 is newer than Eureka! 1.4" in p.message
               for p in cube.problems)


def test_photometry_next_to_spectra_is_reported_not_fatal():
    photometry = REAL / "tests_data" / "S3_Photometry_NIRCam_ap60_bg70_90_SpecData.h5"
    cube = stamp_engine.load([photometry, REAL / "tests_data" / "S3_MIRI_ap4_bg10_SpecData.h5"])
    assert cube.flux.shape == (4, 233)
    messages = [str(p) for p in cube.problems]
    assert f"{photometry.name}: is Eureka! photometry (aplev), not spectroscopy: no optspec" in messages
    with pytest.raises(NoUsableData, match="photometry"):
        stamp_engine.load([photometry])


def test_light_curve_channels_report_their_edges_and_an_info_note(tmp_path, transit):
    """Issue 9.7: the file's range is its channels' edges (0.8–5.2 µm), not their centres (1.4–4.35 µm)."""
    channels = [(0.8, 2.0), (2.0, 3.5), (3.5, 5.2)]
    path = write_eureka_s4_lc(tmp_path / "S4_LCData.h5", transit, channels)
    cube = stamp_engine.load([path])
    [info] = cube.meta["files"]
    np.testing.assert_allclose(info["wavelength_range"], [0.8, 5.2])
    [note] = [p for p in cube.problems if "Stage 4 light curves" in p.message]
    assert note.severity == "info" and note.message in info["notes"]
