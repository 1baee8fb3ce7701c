"""The synthetic x1dints writer produces files shaped like the JWST pipeline's (FORMATS.md §1-§5)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from astropy.io import fits

from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.x1dints import (
    SPECTRAL_COLUMNS,
    Element,
    make_mode_observation,
    stage2_filename,
    stage3_filename,
    write_reductions,
    write_segments,
    write_x1dints,
)

NAN_COLUMNS = (3, 17)


@pytest.fixture(scope="module")
def obs():
    return make_observation(n_integrations=30, wavelength=np.linspace(0.6, 5.3, 64), nan_columns=NAN_COLUMNS)


def extract1d(hdul):
    return [hdu for hdu in hdul if hdu.name == "EXTRACT1D"]


def test_new_layout_structure_units_and_keywords(tmp_path, obs):
    path = write_x1dints(tmp_path / "new.fits", obs, layout="new")
    with fits.open(path) as hdul:
        hdul.verify("exception")
        assert [h.name for h in hdul] == ["PRIMARY", "INT_TIMES", "EXTRACT1D", "ASDF"]
        primary = hdul[0].header
        for key, value in {"DATAMODL": "TSOMultiSpecModel", "CAL_VER": "1.19.1", "NINTS": 30, "EXSEGNUM": 1,
                           "EXSEGTOT": 1, "INTSTART": 1, "INTEND": 30, "INSTRUME": "NIRSPEC", "DETECTOR": "NRS1",
                           "EXP_TYPE": "NRS_BRIGHTOBJ", "GRATING": "PRISM", "PROGRAM": "09999",
                           "OBSERVTN": "001", "FILENAME": "new.fits", "TARGNAME": "WASP-STAMP b"}.items():
            assert primary[key] == value, key
        table = hdul["EXTRACT1D"]
        names = table.columns.names
        assert names[0] == "INT_NUM"
        assert names[1:19] == [name for name, _ in SPECTRAL_COLUMNS]
        assert names[19:] == ["N_ALONGDISP", "SEGMENT", "MJD-BEG", "MJD-AVG", "MJD-END", "TDB-BEG", "TDB-MID", "TDB-END"]
        units = {c.name: c.unit for c in table.columns}
        assert units["WAVELENGTH"] == "um" and units["FLUX"] == "Jy" and units["FLUX_VAR_POISSON"] == "Jy^2"
        assert units["SURF_BRIGHT"] == "MJy/sr" and units["SB_VAR_FLAT"] == "MJy^2 / sr^2"
        assert units["TDB-MID"] == "d"
        assert table.header["TFORM2"] == "64D" and table.header["TDIM2"] == "(64)"
        assert table.header["TZERO13"] == 2147483648 and table.header["DETECTOR"] == "NRS1"
        data = table.data
        assert data["FLUX"].shape == (30, 64)
        assert data["DQ"].dtype == np.uint32
        np.testing.assert_array_equal(data["INT_NUM"], np.arange(1, 31))
        # NaN columns: FLUX NaN, FLUX_ERROR 0, NPIXELS 0, DQ DO_NOT_USE (jwst >= 1.17)
        nan = np.isnan(data["FLUX"]).all(axis=0)
        assert np.flatnonzero(nan).tolist() == list(NAN_COLUMNS)
        assert (data["FLUX_ERROR"][:, nan] == 0).all() and (data["NPIXELS"][:, nan] == 0).all()
        assert (data["DQ"][:, nan] == 1).all() and (data["DQ"][:, ~nan] == 0).all()
        np.testing.assert_allclose(data["FLUX"][:, ~nan], obs.flux[:, ~nan])
        np.testing.assert_allclose(data["TDB-MID"], obs.time_bjd_tdb)
        assert (data["SURF_BRIGHT"] == 0).all()  # NIRSpec point source
        times = hdul["INT_TIMES"].data
        np.testing.assert_array_equal(times["integration_number"], np.arange(1, 31))
        np.testing.assert_allclose(times["int_mid_BJD_TDB"], obs.time_bjd_tdb)
        np.testing.assert_allclose(times["int_mid_MJD_UTC"], obs.time_mjd_utc)
        assert (times["int_end_BJD_TDB"] - times["int_start_BJD_TDB"] > 0).all()
        assert hdul["ASDF"].data.shape == (1,) and hdul["ASDF"].columns.names == ["ASDF_METADATA"]


def test_old_layout_one_table_per_integration_with_keywords(tmp_path, obs):
    path = write_x1dints(tmp_path / "old.fits", obs, layout="old", rows=slice(10, 20), segment=2,
                         segment_total=3, cal_ver="1.10.1")
    with fits.open(path) as hdul:
        hdul.verify("exception")
        assert hdul[0].header["DATAMODL"] == "MultiSpecModel"
        assert (hdul[0].header["INTSTART"], hdul[0].header["INTEND"], hdul[0].header["EXSEGNUM"]) == (11, 20, 2)
        tables = extract1d(hdul)
        assert len(tables) == 10
        assert [t.header["EXTVER"] for t in tables] == list(range(1, 11))
        assert [t.header["INT_NUM"] for t in tables] == list(range(11, 21))
        assert all(t.header["SPORDER"] == 1 and "DETECTOR" not in t.header for t in tables)
        tdb = np.array([t.header["TDB-MID"] for t in tables])
        np.testing.assert_allclose(tdb, obs.time_bjd_tdb[10:20])
        times = hdul["INT_TIMES"].data
        np.testing.assert_array_equal(times["integration_number"], np.arange(11, 21))
        np.testing.assert_allclose(times["int_mid_BJD_TDB"], tdb)
        first = tables[0].data
        assert first.columns.names == [name for name, _ in SPECTRAL_COLUMNS]
        assert first["DQ"].dtype == np.uint32 and (first["DQ"] == 0).all()  # before 1.17 NaN kept DQ 0
        np.testing.assert_allclose(first["FLUX"], obs.flux[10], equal_nan=True)


def test_soss_orders_interleaved_old_and_padded_new(tmp_path):
    obs1, extra = make_mode_observation("niriss_soss", 4, n_wavelengths=50)
    old = write_x1dints(tmp_path / "old.fits", obs1, layout="old", extra_spectra=extra)
    with fits.open(old) as hdul:
        tables = extract1d(hdul)
        assert [t.header["SPORDER"] for t in tables] == [1, 2] * 4
        assert [t.header["INT_NUM"] for t in tables] == [1, 1, 2, 2, 3, 3, 4, 4]
        assert [t.data.shape[0] for t in tables[:2]] == [50, 44]
        wave = tables[0].data["WAVELENGTH"]
        assert wave[0] > wave[-1]  # SOSS stores wavelengths descending
        assert (tables[0].data["FLUX_VAR_POISSON"] == 0).all()  # SOSS fills no variances
        assert "GRATING" not in hdul[0].header and hdul[0].header["PUPIL"] == "GR700XD"  # NIRISS has no grating
    new = write_x1dints(tmp_path / "new.fits", obs1, layout="new", extra_spectra=extra)
    with fits.open(new) as hdul:
        order1, order2 = extract1d(hdul)
        assert (order1.header["SPORDER"], order2.header["SPORDER"]) == (1, 2)
        assert order2.data["FLUX"].shape == (4, 50)  # padded to the longest order
        assert (order2.data["N_ALONGDISP"] == 44).all()
        assert np.isnan(order2.data["FLUX"][:, 44:]).all() and (order2.data["DQ"][:, 44:] == 1).all()
        assert np.isfinite(order2.data["FLUX"][:, :44]).all()


def test_one_integration_segment_is_a_plain_table_and_stray_hdus(tmp_path, obs):
    path = write_x1dints(tmp_path / "one.fits", obs, layout="new", rows=[29], segment=4, segment_total=4,
                         stray_sci=True, hdrtab=True)
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "SCI", "INT_TIMES", "EXTRACT1D", "HDRTAB", "ASDF"]
        assert hdul["SCI"].data is None and hdul["SCI"].header["SRCTYPE"] == "POINT"
        table = hdul["EXTRACT1D"]
        assert table.data.shape == (64,) and "INT_NUM" not in table.columns.names
        assert table.header["INT_NUM"] == 30
        assert table.header["TDB-MID"] == pytest.approx(obs.time_bjd_tdb[29])


def test_stage3_headers_describe_first_segment_and_zero_int_times_rows(tmp_path, obs):
    rows = np.r_[0:10, 20:30]  # the middle segment failed extraction
    path = write_x1dints(tmp_path / "s3.fits", obs, layout="new", stage=3, rows=rows, segment_total=2)
    with fits.open(path) as hdul:
        primary = hdul[0].header
        assert (primary["EXSEGNUM"], primary["INTSTART"], primary["INTEND"]) == (1, 1, 10)
        times = hdul["INT_TIMES"].data
        assert len(times) == 30  # NINTS rows, zero where nothing was extracted
        assert (times["integration_number"][10:20] == 0).all() and (times["int_mid_BJD_TDB"][10:20] == 0).all()
        segments = [t.data["SEGMENT"][0] for t in extract1d(hdul)]
        assert segments == [1, 2]


def test_write_segments_names_and_split(tmp_path):
    obs1, extra = make_mode_observation("nirspec_g395h", 25, n_wavelengths=40)
    paths = write_segments(tmp_path, obs1, 3, layout="old", extra_spectra=extra)
    names = [p.name for p in paths]
    assert names[0] == "jw09999001001_04101_00001-seg001_nrs1_x1dints.fits"
    assert names[3] == "jw09999001001_04101_00001-seg001_nrs2_x1dints.fits"
    assert len(paths) == 6
    sizes = []
    for p in paths[:3]:
        with fits.open(p) as hdul:
            sizes.append(len(extract1d(hdul)))
            assert hdul[0].header["FILENAME"] == p.name
    assert sizes == [9, 9, 7]  # the last segment is shorter
    with fits.open(paths[4]) as hdul:
        assert hdul[0].header["DETECTOR"] == "NRS2" and hdul[0].header["INTSTART"] == 10
        assert hdul["EXTRACT1D"].data["WAVELENGTH"].min() > 3.8
    [stage3] = write_segments(tmp_path, obs1, 3, layout="new", stage=3, extra_spectra=extra)
    assert stage3.name == "jw09999-o001_t001_nirspec_f290lp-g395h_x1dints.fits"
    assert re.match(r"^jw\d{5}-o\d{3}_t\d{3}_", stage3_filename(obs1.meta))
    assert stage2_filename(obs1.meta, 12, "NRS1").endswith("-seg012_nrs1_x1dints.fits")


def test_write_segments_splits_visits_into_exposures(tmp_path):
    obs2 = make_observation(n_integrations=20, n_visits=2, wavelength=np.linspace(1, 2, 8))
    paths = write_segments(tmp_path, obs2, 1)
    assert [p.name[:13] for p in paths] == ["jw09999001001", "jw09999002001"]
    with fits.open(paths[1]) as hdul:
        assert hdul[0].header["NINTS"] == 10 and hdul[0].header["OBSERVTN"] == "002"
        np.testing.assert_array_equal(hdul["INT_TIMES"].data["integration_number"], np.arange(1, 11))


def test_int_times_options(tmp_path, obs):
    path = write_x1dints(tmp_path / "all.fits", obs, layout="new", rows=slice(10, 20), int_times="all")
    with fits.open(path) as hdul:
        assert len(hdul["INT_TIMES"].data) == 30
        np.testing.assert_array_equal(hdul["EXTRACT1D"].data["INT_NUM"], np.arange(11, 21))
    path = write_x1dints(tmp_path / "none.fits", obs, layout="new", rows=slice(10, 20), int_times="none",
                         nan_time_columns=True)
    with fits.open(path) as hdul:
        assert "INT_TIMES" not in [h.name for h in hdul]
        data = hdul["EXTRACT1D"].data
        np.testing.assert_array_equal(data["INT_NUM"], np.arange(1, 11))  # counted within the file
        assert np.isnan(data["TDB-MID"]).all() and np.isnan(data["MJD-AVG"]).all()
    path = write_x1dints(tmp_path / "short.fits", obs, layout="old", rows=slice(0, 10), int_times="short")
    with fits.open(path) as hdul:
        assert len(hdul["INT_TIMES"].data) == 5
        assert ["TDB-MID" in t.header for t in extract1d(hdul)] == [True] * 5 + [False] * 5


@pytest.mark.parametrize("layout", ["old", "new"])
def test_local_int_num_and_int_times_elsewhere(tmp_path, obs, layout):
    """A later segment numbering its integrations from 1, with an INT_TIMES that lists only earlier ones."""
    path = write_x1dints(tmp_path / "seg2.fits", obs, layout=layout, rows=slice(10, 20), segment=2, segment_total=3,
                         int_times="elsewhere", local_int_num=True)
    with fits.open(path) as hdul:
        assert (hdul[0].header["INTSTART"], hdul[0].header["INTEND"]) == (11, 20)
        np.testing.assert_array_equal(hdul["INT_TIMES"].data["integration_number"], np.arange(1, 11))
        if layout == "old":
            assert [t.header["INT_NUM"] for t in extract1d(hdul)] == list(range(1, 11))
            assert not any("TDB-MID" in t.header for t in extract1d(hdul))  # INT_TIMES does not cover them
        else:
            data = hdul["EXTRACT1D"].data
            np.testing.assert_array_equal(data["INT_NUM"], np.arange(1, 11))
            assert np.isnan(data["TDB-MID"]).all()
    with pytest.raises(ValueError, match="elsewhere"):
        write_x1dints(tmp_path / "seg1.fits", obs, layout=layout, rows=slice(0, 10), int_times="elsewhere")


def test_reductions_differ_in_version_layout_and_values(tmp_path, obs):
    (first, [old]), (second, [new]) = write_reductions(tmp_path, obs, stage=3)
    with fits.open(old) as a, fits.open(new) as b:
        assert (a[0].header["CAL_VER"], a[0].header["DATAMODL"]) == ("1.18.1", "MultiSpecModel")
        assert (b[0].header["CAL_VER"], b[0].header["DATAMODL"]) == ("1.19.1", "TSOMultiSpecModel")
        assert old.name == new.name and old.parent != new.parent  # one MAST name, two folders
    np.testing.assert_array_equal(first.flux, obs.flux)  # the first reduction is the observation itself
    np.testing.assert_array_equal(second.time_bjd_tdb, obs.time_bjd_tdb)
    difference = (second.flux - obs.flux) / obs.error
    finite = np.isfinite(difference)
    assert 0.1 < np.std(difference[finite]) < 0.3  # a re-extraction: the same integrations, other values


def test_miri_surface_brightness_and_dn_units(tmp_path):
    obs1, _ = make_mode_observation("miri_lrs", 5, n_wavelengths=30)
    path = write_x1dints(tmp_path / "miri.fits", obs1, layout="new", flux_unit="DN/s")
    with fits.open(path) as hdul:
        table = hdul["EXTRACT1D"]
        assert table.columns["FLUX"].unit == "DN/s"
        assert hdul[0].header["S_PHOTOM"] == "SKIPPED"
        assert "GRATING" not in hdul[0].header  # was make_observation's NIRSpec default, PRISM
        assert (table.data["SURF_BRIGHT"] > 0).all()
        assert table.data["WAVELENGTH"][0, 0] > table.data["WAVELENGTH"][0, -1]


def test_extra_spectra_must_share_integrations(tmp_path, obs):
    other = make_observation(n_integrations=5, wavelength=np.linspace(1, 2, 8))
    with pytest.raises(ValueError, match="as many integrations"):
        write_x1dints(tmp_path / "x.fits", obs, extra_spectra=[(Element(sporder=2), other)])
