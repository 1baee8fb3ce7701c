"""End to end: synthetic x1dints files through stamp_engine.load give back the injected transit."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy.io import fits

import stamp_engine
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.x1dints import (make_mode_observation, stage2_filename, write_reductions, write_segments,
                                          write_x1dints)

SNR = 1000.0
N_INT = 80


def recovered_depth(cube):
    """Transit depth per wavelength from the flat bottom against the out-of-transit rows."""
    hours = (cube.time.mjd - cube.time.mjd[0]) * 24.0
    span = hours[-1]
    offset = np.abs(hours - span / 2)
    # the synthetic transit lasts 40 % of the visit with 5 % ingress/egress
    inside = offset < span * 0.2 - span * 0.05
    outside = offset > span * 0.2
    with warnings.catch_warnings():  # all-NaN columns (no valid pixel) give NaN depths
        warnings.simplefilter("ignore", RuntimeWarning)
        depth = 1.0 - np.nanmean(cube.flux[inside], axis=0) / np.nanmean(cube.flux[outside], axis=0)
    sigma = np.sqrt(1.0 / inside.sum() + 1.0 / outside.sum()) / SNR
    return depth, sigma


def assert_depth(cube, wavelength, truth):
    np.testing.assert_allclose(cube.wavelength, wavelength)
    depth, sigma = recovered_depth(cube)
    good = np.isfinite(depth)
    assert good.sum() >= wavelength.size - 2
    assert np.all(np.abs(depth[good] - truth[good]) < 5 * sigma)
    # and the spectrum of depths is not flat noise: its features come back
    assert np.corrcoef(depth[good], truth[good])[0, 1] > 0.9


@pytest.mark.parametrize("layout", ["old", "new"])
def test_segments_and_stage3_of_one_exposure(tmp_path, layout):
    obs = make_observation(n_integrations=N_INT, wavelength=np.linspace(0.6, 5.3, 40), snr=SNR,
                           nan_columns=(5,), seed=3)
    stage2 = write_segments(tmp_path / "s2", obs, 3, layout=layout)
    stage3 = write_segments(tmp_path / "s3", obs, 3, layout=layout, stage=3)
    cube = stamp_engine.load(stage2 + stage3)
    assert cube.flux.shape == (N_INT, 40)  # the stage-2 copies of the same integrations are not stacked
    assert cube.time_standard == "BJD_TDB"
    np.testing.assert_allclose(cube.time.mjd, obs.time_bjd_tdb, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(cube.integration, np.arange(1, N_INT + 1))
    used = {f["source"]: f["used"] for f in cube.meta["files"]}
    assert used[stage3[0].name] and not any(used[p.name] for p in stage2)
    assert_depth(cube, obs.wavelength, obs.truth["depth"])
    assert cube.meta["target"] == "WASP-STAMP b" and cube.meta["pipeline"].startswith("jwst 1.")


def test_soss_descending_order_one_by_default(tmp_path):
    order1, extra = make_mode_observation("niriss_soss", N_INT, n_wavelengths=40, snr=SNR)
    paths = write_segments(tmp_path, order1, 2, layout="old", extra_spectra=extra)
    cube = stamp_engine.load(paths)
    assert cube.meta["element_used"] == "order 1"
    assert set(cube.meta["elements_available"]) == {"order 1", "order 2"}
    assert_depth(cube, order1.wavelength, order1.truth["depth"])
    cube2 = stamp_engine.load(paths, order=2)
    assert_depth(cube2, extra[0][1].wavelength, extra[0][1].truth["depth"])


def test_g395h_stage3_old_layout_detectors_joined(tmp_path):
    nrs1, extra = make_mode_observation("nirspec_g395h", N_INT, n_wavelengths=30, snr=SNR)
    nrs2 = extra[0][1]
    paths = write_segments(tmp_path, nrs1, 2, layout="old", stage=3, extra_spectra=extra)
    cube = stamp_engine.load(paths)
    wavelength = np.concatenate([nrs1.wavelength, nrs2.wavelength])
    assert_depth(cube, wavelength, np.concatenate([nrs1.truth["depth"], nrs2.truth["depth"]]))


def test_times_from_expstart_when_time_columns_are_empty(tmp_path):
    obs = make_observation(n_integrations=N_INT, wavelength=np.linspace(1, 3, 20), snr=SNR)
    paths = write_segments(tmp_path, obs, 2, layout="new", int_times="none", nan_time_columns=True)
    cube = stamp_engine.load(paths)
    assert cube.time_standard == "MJD_UTC (from EXPSTART + cadence)"
    np.testing.assert_array_equal(cube.integration, np.arange(1, N_INT + 1))
    np.testing.assert_allclose(cube.time.mjd, obs.time_mjd_utc, rtol=0, atol=1e-7)
    assert_depth(cube, obs.wavelength, obs.truth["depth"])


# ------------------------------------------------- a later segment counting INT_NUM from 1 (issue 9.1)
def restarted_segments(tmp_path, layout: str, int_times: str, mode: str | None = None):
    """seg001 (integrations 1–30) as the pipeline writes it, seg002 (31–55) with file-local INT_NUM 1–25."""
    if mode is None:
        obs, extra = make_observation(n_integrations=55, wavelength=np.linspace(1, 3, 20), seed=4), []
    else:
        obs, extra = make_mode_observation(mode, 55, n_wavelengths=20, seed=4)
    seg1 = write_x1dints(tmp_path / stage2_filename(obs.meta, 1, "nrs1"), obs, layout=layout, rows=slice(0, 30),
                         segment=1, segment_total=2, extra_spectra=extra)
    seg2 = write_x1dints(tmp_path / stage2_filename(obs.meta, 2, "nrs1"), obs, layout=layout, rows=slice(30, 55),
                         segment=2, segment_total=2, extra_spectra=extra, int_times=int_times, local_int_num=True)
    with fits.open(seg2) as hdul:  # the case as filed: INTSTART says 31, EXTRACT1D says 1
        assert hdul[0].header["INTSTART"] == 31
        numbers = (hdul["EXTRACT1D"].data["INT_NUM"] if layout == "new"
                   else [h.header["INT_NUM"] for h in hdul if h.name == "EXTRACT1D"])
        assert min(numbers) == 1 and max(numbers) == 25
    return obs, seg1, seg2


def messages(cube, source) -> list[str]:
    return [p.message for p in cube.problems if p.source == source.name]


@pytest.mark.parametrize("layout", ["old", "new"])
def test_later_segment_counting_from_one_is_renumbered_from_intstart(tmp_path, layout):
    obs, seg1, seg2 = restarted_segments(tmp_path, layout, int_times="segment")
    renumbered = "INT_NUM counts within this segment file (1–25) although it starts at integration 31 " \
                 "of the exposure (INTSTART): renumbered 31–55"
    alone = stamp_engine.load([seg2])
    np.testing.assert_array_equal(alone.integration, np.arange(31, 56))
    np.testing.assert_allclose(alone.time.mjd, obs.time_bjd_tdb[30:], rtol=0, atol=1e-9)  # not 30 min early
    assert alone.time_standard == "BJD_TDB" and renumbered in messages(alone, seg2)
    both = stamp_engine.load([seg1, seg2])
    np.testing.assert_array_equal(both.integration, np.arange(1, 56))  # nothing dropped as a duplicate
    np.testing.assert_allclose(both.time.mjd, obs.time_bjd_tdb, rtol=0, atol=1e-9)
    np.testing.assert_allclose(both.flux, obs.flux, rtol=1e-12, equal_nan=True)
    assert renumbered in messages(both, seg2)
    assert not any("more than once" in p.message or "time order" in p.message for p in both.problems)


@pytest.mark.parametrize("layout", ["old", "new"])
def test_segment_int_times_does_not_cover_says_which_fallback_time(tmp_path, layout):
    obs, seg1, seg2 = restarted_segments(tmp_path, layout, int_times="elsewhere")
    alone = stamp_engine.load([seg2])
    np.testing.assert_array_equal(alone.integration, np.arange(31, 56))
    assert alone.time_standard == "MJD_UTC (from EXPSTART + cadence)"
    np.testing.assert_allclose(alone.time.mjd, obs.time_mjd_utc[30:], rtol=0, atol=1e-7)
    assert ("no integration times for INT_NUM 31–55: INT_TIMES lists only integrations 1–30, so the fallback "
            "EXPSTART + (INT_NUM − 1) × cadence + half an integration was used (MJD UTC") in " ".join(messages(alone, seg2))
    # With segment 1 the exposure's measured BJD_TDB times carry on: no UTC rows minutes off the axis.
    both = stamp_engine.load([seg1, seg2])
    np.testing.assert_array_equal(both.integration, np.arange(1, 56))
    assert both.time_standard == "BJD_TDB"
    np.testing.assert_allclose(both.time.mjd, obs.time_bjd_tdb, rtol=0, atol=1e-8)
    assert any("no measured times for integrations 31–55: their BJD_TDB times were extended from the other "
               "segments' times of the exposure (integrations 1–30, one every 60 s)" in m for m in messages(both, seg2))
    assert not any("time order" in p.message for p in both.problems)


def test_soss_old_layout_restarted_segment_renumbers_every_order(tmp_path):
    obs, seg1, seg2 = restarted_segments(tmp_path, "old", int_times="segment", mode="niriss_soss")
    for order in (1, 2):
        cube = stamp_engine.load([seg1, seg2], order=order)
        np.testing.assert_array_equal(cube.integration, np.arange(1, 56))
        np.testing.assert_allclose(cube.time.mjd, obs.time_bjd_tdb, rtol=0, atol=1e-9)


# ------------------------------------------------- one observation reduced twice (issue 9.4)
def reduction_files(cube, folder: str) -> list[dict]:
    """``cube.meta["files"]`` entries of one reduction's folder, each with the messages about it."""
    files = [dict(f) for f in cube.meta["files"] if f["source"].split("/")[1].startswith(folder)]
    for f in files:
        f["problems"] = [p.message for p in cube.problems if p.source == f["source"]]
    return files


@pytest.mark.parametrize("stage", [2, 3])
def test_two_reductions_of_one_exposure_are_never_mixed_the_newer_is_kept(tmp_path, stage):
    obs = make_observation(n_integrations=N_INT, wavelength=np.linspace(1, 3, 20), snr=SNR, seed=5)
    (old, _), (new, _) = write_reductions(tmp_path / "uploads", obs, (
        {"layout": "old", "cal_ver": "1.18.1", "n_segments": 2},
        {"layout": "new", "cal_ver": "1.19.1", "n_segments": 3}), stage=stage)
    cube = stamp_engine.load([tmp_path / "uploads"])
    np.testing.assert_array_equal(cube.integration, np.arange(1, N_INT + 1))
    np.testing.assert_allclose(cube.time.mjd, obs.time_bjd_tdb, rtol=0, atol=1e-9)  # one row per time
    np.testing.assert_array_equal(cube.flux, new.flux)  # every value from the kept reduction
    assert all(f["used"] for f in reduction_files(cube, "reduction2"))
    dropped = reduction_files(cube, "reduction1")
    assert dropped and not any(f["used"] for f in dropped)
    for f in dropped:
        assert any("another reduction of the same integrations" in m and "this file: " in m
                   and "jwst 1.19.1 is newer than jwst 1.18.1" in m for m in f["problems"])
    assert not any("more than once" in p.message or "time order" in p.message for p in cube.problems)


def test_reductions_with_different_exposure_keys_are_told_apart_by_time(tmp_path):
    """The same times under two exposure keys used to be interleaved: 2 × N rows, duplicate times."""
    obs = make_observation(n_integrations=N_INT, wavelength=np.linspace(1, 3, 20), snr=SNR, seed=6)
    (old, _), (new, _) = write_reductions(tmp_path / "uploads", obs, (
        {"layout": "new", "cal_ver": "1.19.1", "stage": 3},
        {"layout": "old", "cal_ver": "1.18.1", "stage": 2, "n_segments": 2, "meta": {"exposure_number": 2}}))
    cube = stamp_engine.load([tmp_path / "uploads"])
    assert cube.n_integrations == N_INT and np.all(np.diff(cube.time.mjd) > 0)
    np.testing.assert_array_equal(cube.flux, old.flux)  # stage 3 is kept over stage 2 whatever the versions
    assert any("stage 3 is preferred over stage 2" in m for f in reduction_files(cube, "reduction2")
               for m in f["problems"])


def test_exposures_one_after_the_other_are_both_kept(tmp_path):
    obs = make_observation(n_integrations=N_INT, n_visits=2, wavelength=np.linspace(1, 3, 20), snr=SNR,
                           visit_gap_hours=0.2, seed=7)
    paths = write_segments(tmp_path, obs, 1, layout="old")
    assert len(paths) == 2  # two exposures, 12 min apart
    cube = stamp_engine.load(paths)
    assert cube.n_integrations == N_INT and not any("reduction" in p.message for p in cube.problems)


def test_detectors_from_two_reductions_are_joined_not_chosen_between(tmp_path):
    nrs1, extra = make_mode_observation("nirspec_g395h", N_INT, n_wavelengths=20, snr=SNR)
    nrs2 = extra[0][1]
    [a] = write_segments(tmp_path / "r1", nrs1, 1, layout="old", cal_ver="1.18.1")
    [b] = write_segments(tmp_path / "r2", nrs2, 1, layout="new", cal_ver="1.19.1", detector="NRS2")
    cube = stamp_engine.load([a, b])
    assert cube.meta["element_used"] == "NRS1, NRS2" and cube.n_integrations == N_INT
    assert not any("another reduction" in p.message for p in cube.problems)


def test_eureka_and_pipeline_spectra_of_the_same_times_are_not_interleaved(tmp_path):
    from stamp_engine.synthetic.eureka import write_eureka_s3

    obs = make_observation(n_integrations=N_INT, wavelength=np.linspace(1, 3, 20), snr=SNR, seed=8)
    [x1d] = write_segments(tmp_path, obs, 2, layout="new", stage=3)
    eureka = write_eureka_s3(tmp_path / "S3_wasp_ap5_bg10_SpecData.h5", obs)
    cube = stamp_engine.load([eureka, x1d])
    assert cube.n_integrations == N_INT and np.all(np.diff(cube.time.mjd) > 0)
    assert cube.sources == (x1d.name,)
    assert any(p.source == eureka.name and "stage 3 is preferred over" in p.message for p in cube.problems)


@pytest.mark.parametrize("layout", ["old", "new"])
def test_file_cut_short_at_an_hdu_boundary_is_reported(tmp_path, layout):
    """A download that stops exactly between two HDUs reads as a complete, shorter file.  Old layout:
    the segment lost its last integrations' tables and the gap was blamed on 'a segment file of this
    exposure was not given'; new layout (SOSS): order 2's table went missing without a word."""
    obs, extra = make_mode_observation("niriss_soss", 90, n_wavelengths=30, seed=3)
    paths = write_segments(tmp_path, obs, 3, layout=layout, extra_spectra=extra)
    with fits.open(paths[1]) as hdul:
        starts = [h.fileinfo()["hdrLoc"] for h in hdul]
        names = [h.name for h in hdul]
    # old: keep the first 10 of segment 2's 30 integrations (2 orders each); new: drop order 2 and ASDF
    cut = starts[names.index("INT_TIMES") + 1 + 20] if layout == "old" else starts[names.index("EXTRACT1D") + 1]
    paths[1].write_bytes(paths[1].read_bytes()[:cut])
    cube = stamp_engine.load(paths)
    said = [p.message for p in cube.problems if p.source == paths[1].name]
    assert any("no ASDF HDU" in m and "cut short" in m for m in said), said
    if layout == "old":
        assert cube.n_integrations == 70
        assert any("INT_NUM 41–60" in m and "INTSTART–INTEND = 31–60" in m for m in said), said
        assert not any("was not given" in p.message for p in cube.problems)
    else:
        assert cube.n_integrations == 90
        second = stamp_engine.load(paths, order=2)
        assert second.n_integrations == 60  # segment 2 has no order 2 left: said, not hidden
        assert any(f"{paths[1].name} of this exposure may be cut short" in p.message for p in second.problems)
