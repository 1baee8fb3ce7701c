"""The Eureka! reader on every real Eureka! file in tests/data/real/eureka (see PROVENANCE.md)."""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import h5py
import numpy as np
import pytest

from stamp_engine.io.registry import identify_format, read
from stamp_engine.problems import ReadError

from tests.helpers.paths import REAL as REAL_DATA

REAL = REAL_DATA / "eureka"
PHOTOMETRY = REAL / "tests_data" / "S3_Photometry_NIRCam_ap60_bg70_90_SpecData.h5"
SPECTRA = sorted(p for p in REAL.rglob("*SpecData.h5") if p != PHOTOMETRY)
LIGHT_CURVES = sorted(REAL.rglob("*LCData.h5"))


def _name(path: Path) -> str:
    return str(path.relative_to(REAL))


def test_every_real_file_is_covered():
    assert len(SPECTRA) == 9
    assert len(LIGHT_CURVES) == 6


@pytest.mark.parametrize("path", SPECTRA, ids=_name)
def test_real_specdata_reads_optspec_as_stored(path):
    blocks = read(path)
    assert identify_format(path).name == "eureka"
    assert len(blocks) == 1
    block = blocks[0]
    with h5py.File(path) as h5:
        optspec = h5["optspec"][()]
        opterr = h5["opterr"][()]
        optmask = h5["optmask"][()] != 0
        wave = h5["wave_1d"][()]
        time = h5["time"][()]
    # optimal extraction preferred over the box spectrum, values untouched, mask → bad
    np.testing.assert_array_equal(np.asarray(block.flux), optspec)
    np.testing.assert_array_equal(np.asarray(block.error), opterr)
    np.testing.assert_array_equal(block.bad, optmask)
    np.testing.assert_array_equal(block.wavelength, wave)
    np.testing.assert_array_equal(block.time_mjd, time)
    np.testing.assert_array_equal(block.integration, np.arange(1, time.size + 1))
    assert block.layout == "eureka-s3"
    assert block.flux_unit == u.electron
    assert block.time_standard == "BJD_TDB"
    assert block.meta["flux_dataset"] == "optspec"
    assert block.meta["pipeline"].startswith("Eureka!")
    assert 50000 < np.nanmin(block.time_mjd) < 70000
    assert "flux_unit_assumed" not in block.meta


def test_nirspec_s3_prism_file():
    path = REAL / "tests_data" / "S3_NIRSpec_ap5_bg10_SpecData.h5"
    (block,) = read(path)
    assert block.flux.shape == (24, 511)
    assert block.wavelength.min() == pytest.approx(0.4715, abs=1e-4)
    assert block.wavelength.max() == pytest.approx(5.7169, abs=1e-4)
    assert np.all(np.diff(block.wavelength) > 0)
    assert block.flux_unit == u.electron
    assert block.time_mjd[0] == pytest.approx(60502.47, abs=0.01)
    assert np.all(np.diff(block.time_mjd) > 0)
    assert block.meta["instrument"] == "NIRSPEC"
    assert block.meta["detector"] == "NRS1"
    assert block.meta["grating"] == "PRISM"
    assert block.meta["filter"] == "CLEAR"
    assert block.meta["pipeline"] == "Eureka! 1.4"
    assert block.meta["eventlabel"] == "NIRSpec"
    assert block.meta["nints"] == 24
    assert block.element == ""
    assert block.notes == []
    # the 0.04 % NaN of optspec is flagged by optmask
    assert np.all(block.bad[~np.isfinite(block.flux)])


def test_s3_and_s4_specdata_of_one_run_share_the_exposure_key():
    (s3,) = read(REAL / "tests_data" / "S3_NIRSpec_ap5_bg10_SpecData.h5")
    (s4,) = read(REAL / "regression_refs" / "Stage4" / "nirspec_spectroscopy" / "SpecData.h5")
    assert s3.exposure == s4.exposure  # same integrations: the assembler keeps one copy
    assert s4.meta["pipeline"] == "Eureka! 1.5.dev24+g45abe7c80"
    # the Stage-4 rewrite masks more columns than Stage 3 did
    assert np.count_nonzero(s4.bad) > np.count_nonzero(s3.bad)


def test_2022_s3_file_with_bjd_label_on_mjd_numbers():
    (block,) = read(REAL / "2022_wasp39b" / "S3_wasp39b_ap6_bg7_SpecData.h5")
    assert block.flux.shape == (32, 350)
    assert block.flux.dtype == np.float64
    assert block.wavelength.min() == pytest.approx(0.9625, abs=1e-4)
    assert block.wavelength.max() == pytest.approx(5.2034, abs=1e-4)
    assert block.time_standard == "BJD_TDB"
    assert 57394.4 < block.time_mjd[0] < 57394.6
    assert "time_units says BJD_TDB but values are MJD-like (~57394): read as BMJD_TDB" in block.notes
    assert "instrument" not in block.meta  # the 2022 file has no root attributes
    assert block.meta["pipeline"] == "Eureka!"


def test_niriss_soss_specdata_with_a_scalar_order_coordinate():
    (block,) = read(REAL / "regression_refs" / "Stage4" / "niriss_spectroscopy" / "SpecData.h5")
    assert block.element == "order 1"
    assert block.flux.shape == (3, 2037)
    assert block.wavelength.min() == pytest.approx(0.8514, abs=1e-4)
    assert block.wavelength.max() == pytest.approx(2.8267, abs=1e-4)
    assert block.meta["instrument"] == "NIRISS"
    assert block.meta["detector"] == "NIS"
    assert block.time_mjd[0] == pytest.approx(60595.38, abs=0.01)


def test_miri_specdata_metadata():
    (block,) = read(REAL / "tests_data" / "S3_MIRI_ap4_bg10_SpecData.h5")
    assert block.flux.shape == (4, 233)
    assert block.meta["instrument"] == "MIRI"
    assert block.meta["filter"] == "P750L"
    assert 5.43 < block.wavelength.min() < 5.44 and 11.85 < block.wavelength.max() < 11.86


@pytest.mark.parametrize("path", LIGHT_CURVES, ids=_name)
def test_real_lcdata_is_transposed_to_time_by_channel(path):
    (block,) = read(path)
    with h5py.File(path) as h5:
        data = h5["data"][()]
        err = h5["err"][()]
        centres = h5["wavelength"][()]
        low, high = h5["wave_low"][()], h5["wave_hi"][()]
        has_mask = "mask" in h5
        mask = h5["mask"][()] != 0 if has_mask else None
    assert block.layout == "eureka-s4"
    assert block.flux.shape == data.T.shape
    np.testing.assert_array_equal(block.flux, data.T)
    np.testing.assert_array_equal(block.error, err.T)
    np.testing.assert_array_equal(block.wavelength, centres)
    assert block.meta["wave_low"] == pytest.approx(list(low))
    assert block.meta["wave_hi"] == pytest.approx(list(high))
    assert block.meta["light_curve_channels"] == centres.size
    if has_mask:
        np.testing.assert_array_equal(block.bad, mask.T)
    else:
        assert block.bad is None
    assert block.flux_unit == u.electron
    assert block.time_standard == "BJD_TDB"
    assert 50000 < block.time_mjd.min() < 70000


def test_nirspec_lcdata_white_light_is_not_a_channel():
    (block,) = read(REAL / "regression_refs" / "Stage4" / "nirspec_spectroscopy" / "LCData.h5")
    assert block.flux.shape == (24, 2)
    np.testing.assert_array_equal(block.wavelength, [2.0, 4.0])
    assert block.meta["wave_low"] == [1.0, 3.0]
    assert block.meta["wave_hi"] == [3.0, 5.0]
    assert not np.any(np.isclose(block.wavelength, 3.334, atol=1e-3))


def test_niriss_lcdata_channels():
    (block,) = read(REAL / "regression_refs" / "Stage4" / "niriss_spectroscopy" / "LCData.h5")
    assert block.flux.shape == (3, 4)
    assert block.meta["wave_low"][0] == pytest.approx(0.86)
    assert block.meta["wave_hi"][-1] == pytest.approx(2.80)


def test_2022_lcdata_without_mask_and_with_the_label_note():
    (block,) = read(REAL / "2022_wasp39b" / "S4_wasp39b_ap6_bg7_LCData.h5")
    assert block.flux.shape == (32, 2)
    assert block.bad is None
    np.testing.assert_array_equal(block.wavelength, [2.25, 3.75])
    assert any("MJD-like (~57394)" in note for note in block.notes)


def test_wfc3_lcdata_full_julian_dates_become_mjd():
    path = REAL / "regression_refs" / "Stage4" / "wfc3_spectroscopy" / "LCData.h5"
    (block,) = read(path)
    with h5py.File(path) as h5:
        jd = h5["time"][()]
    assert jd.min() > 2.4e6
    np.testing.assert_allclose(block.time_mjd, jd - 2400000.5, rtol=0, atol=1e-9)
    assert 56693 < block.time_mjd[0] < 56694
    assert block.time_standard == "BJD_TDB"
    assert any("full Julian Dates" in note and "2400000.5" in note for note in block.notes)
    assert block.flux.shape == (2, 1)


def test_photometry_file_is_refused_with_a_clear_message():
    with pytest.raises(ReadError) as info:
        read(PHOTOMETRY)
    assert str(info.value) == "is Eureka! photometry (aplev), not spectroscopy: no optspec"
    assert PHOTOMETRY.name not in str(info.value)
