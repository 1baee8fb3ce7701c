"""The assembler: blocks from any reader → one cube (stitching, dedupe, detectors, orders, grids)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from stamp_engine.assemble import LoadOptions, _assemble, load
from stamp_engine.io.block import SpectralBlock
from stamp_engine.problems import NoUsableData, Problem
from stamp_engine.synthetic import make_observation


def block_from(obs, rows, *, source="seg.fits", element="", exposure="exp1", stage=2, wavelength=None,
               flux=None, integration_offset=1, **kwargs) -> SpectralBlock:
    rows = np.asarray(rows)
    wave = obs.wavelength if wavelength is None else wavelength
    return SpectralBlock(
        source=source,
        layout="test",
        wavelength=wave,
        flux=(obs.flux if flux is None else flux)[rows],
        error=obs.error[rows],
        flux_unit=u.Jy,
        integration=rows + integration_offset,
        time_mjd=obs.time_bjd_tdb[rows],
        element=element,
        exposure=exposure,
        stage=stage,
        meta={"target": "T", "instrument": "NIRSPEC", "detector": element or "NRS1"},
        **kwargs,
    )


def assemble(blocks, **options):
    problems: list[Problem] = []
    files = [{"source": b.source} for b in blocks]
    return _assemble(blocks, files, problems, LoadOptions(**options), lambda *a: None)


@pytest.fixture(scope="module")
def obs():
    return make_observation("transit", n_integrations=120, wavelength=np.linspace(1.0, 3.0, 50), seed=3)


def test_segments_are_stitched_in_integration_order_whatever_the_file_order(obs):
    blocks = [block_from(obs, range(80, 120), source="seg003"), block_from(obs, range(0, 40), source="seg001"),
              block_from(obs, range(40, 80), source="seg002")]
    cube = assemble(blocks)
    assert cube.n_integrations == 120
    np.testing.assert_array_equal(cube.integration, np.arange(1, 121))
    np.testing.assert_array_equal(cube.flux, obs.flux)
    assert cube.sources == ("seg001", "seg002", "seg003")
    assert [cube.sources[i] for i in cube.source_index[[0, 50, 119]]] == ["seg001", "seg002", "seg003"]
    assert not [p for p in cube.problems if p.severity == "error"]


def test_overlapping_segments_keep_each_integration_once_and_say_so(obs):
    blocks = [block_from(obs, range(0, 70), source="a"), block_from(obs, range(50, 120), source="b")]
    cube = assemble(blocks)
    np.testing.assert_array_equal(cube.integration, np.arange(1, 121))
    np.testing.assert_array_equal(cube.flux, obs.flux)
    assert any("more than once" in p.message for p in cube.problems)


def test_missing_integrations_are_reported_as_a_gap(obs):
    blocks = [block_from(obs, range(0, 40), source="seg001"), block_from(obs, range(80, 120), source="seg003")]
    cube = assemble(blocks)
    assert cube.n_integrations == 80
    assert cube.meta["integration_gaps"] == [[41, 80]]
    assert any("41–80" in p.message and "missing" in p.message for p in cube.problems)


def test_descending_wavelengths_are_sorted_with_flux_and_error_carried(obs):
    rev = block_from(obs, range(120), wavelength=obs.wavelength[::-1], flux=obs.flux[:, ::-1])
    rev.error = obs.error[:, ::-1]
    cube = assemble([rev])
    assert np.all(np.diff(cube.wavelength) > 0)
    np.testing.assert_array_equal(cube.flux, obs.flux)
    np.testing.assert_array_equal(cube.error, obs.error)


def test_big_endian_float32_input_becomes_native_float64(obs):
    b = block_from(obs, range(120))
    b.flux = obs.flux.astype(">f4")
    b.error = obs.error.astype(">f4")
    cube = assemble([b])
    assert cube.flux.dtype == np.float64 and cube.flux.dtype.isnative
    np.testing.assert_allclose(cube.flux, obs.flux, rtol=1e-6)


def test_zero_error_under_nan_flux_and_flagged_pixels_become_nan(obs):
    flux = obs.flux.copy()
    flux[:, 5] = np.nan
    b = block_from(obs, range(120), flux=flux)
    b.error = obs.error.copy()
    b.error[:, 5] = 0.0
    bad = np.zeros(obs.flux.shape, dtype=bool)
    bad[10, 20] = True
    b.bad = bad
    cube = assemble([b])
    assert np.all(np.isnan(cube.error[:, 5]))
    assert np.isnan(cube.flux[10, 20]) and np.isfinite(cube.flux[11, 20])


def test_two_detectors_of_one_exposure_are_joined_side_by_side(obs):
    blue = make_observation("transit", n_integrations=60, wavelength=np.linspace(2.9, 3.7, 40), seed=1)
    red = make_observation("transit", n_integrations=60, wavelength=np.linspace(3.8, 5.2, 40), seed=2)
    nrs2 = block_from(red, range(60), element="NRS2", source="nrs2.fits")
    nrs1 = block_from(blue, range(60), element="NRS1", source="nrs1.fits")
    cube = assemble([nrs2, nrs1])
    assert cube.n_wavelengths == 80
    assert np.all(np.diff(cube.wavelength) > 0)
    np.testing.assert_array_equal(cube.flux[:, :40], blue.flux)
    np.testing.assert_array_equal(cube.flux[:, 40:], red.flux)
    assert cube.meta["detector"] == "NRS1, NRS2"
    only = assemble([nrs2, nrs1], detectors=("NRS2",))
    assert only.n_wavelengths == 40 and only.wavelength[0] == pytest.approx(3.8)


def test_orders_are_not_merged_first_order_by_default_and_choosable(obs):
    o1 = block_from(obs, range(120), element="order 1")
    o2_obs = make_observation("transit", n_integrations=120, wavelength=np.linspace(0.6, 1.4, 30), seed=9)
    o2 = block_from(o2_obs, range(120), element="order 2")
    cube = assemble([o2, o1])
    assert cube.n_wavelengths == 50 and cube.meta["element_used"] == "order 1"
    assert cube.meta["elements_available"] == ["order 1", "order 2"]
    second = assemble([o2, o1], order=2)
    assert second.n_wavelengths == 30
    with pytest.raises(NoUsableData, match="order 3"):
        assemble([o2, o1], order=3)


def test_stage3_product_wins_over_stage2_segments_of_the_same_exposure(obs):
    s2 = block_from(obs, range(0, 60), source="seg001_x1dints.fits", stage=2)
    s3 = block_from(obs, range(120), source="o001_x1dints.fits", stage=3, flux=obs.flux * 1.01)
    cube = assemble([s2, s3])
    assert cube.sources == ("o001_x1dints.fits",)
    np.testing.assert_allclose(cube.flux, obs.flux * 1.01)
    assert any(p.source == "seg001_x1dints.fits" and "stage 3 is preferred over stage 2" in p.message
               for p in cube.problems)


def test_stage2_segment_missing_from_the_stage3_product_is_reported_as_such(obs):
    """Stage 3 lost segment 2 (failed in tso3); the stage-2 file of that segment holds integrations
    the stage-3 product lacks.  Reductions are never mixed, so it is not used, but the message said it
    held 'another reduction of the same integrations' — not true of it, and nothing said where 61-120 were."""
    seg1 = block_from(obs, range(0, 60), source="seg001_x1dints.fits", stage=2)
    seg2 = block_from(obs, range(60, 120), source="seg002_x1dints.fits", stage=2)
    s3 = block_from(obs, range(0, 60), source="o001_x1dints.fits", stage=3, flux=obs.flux * 1.01)
    cube = assemble([seg1, seg2, s3])
    assert cube.sources == ("o001_x1dints.fits",) and cube.n_integrations == 60
    [first] = [p.message for p in cube.problems if p.source == "seg001_x1dints.fits"]
    assert "another reduction of the same integrations" in first
    [second] = [p.message for p in cube.problems if p.source == "seg002_x1dints.fits"]
    assert "same integrations" not in second
    assert "integrations 61–120" in second and "o001_x1dints.fits" in second and "without" in second


def test_exposures_with_the_same_identifiers_at_other_times_are_not_duplicates():
    """Two visits whose headers carry the same exposure identifiers (INT_NUM restarting at 1 in each):
    the same integration numbers at times a day apart are not the same integrations.  They were
    'given more than once' and one visit (100 of 200 integrations) was dropped."""
    two = make_observation("transit", n_integrations=200, n_visits=2, visit_gap_hours=24,
                           wavelength=np.linspace(1, 2, 20), seed=4)
    v1 = block_from(two, range(0, 100), source="visit1_x1dints.fits")
    v2 = block_from(two, range(100, 200), source="visit2_x1dints.fits", integration_offset=-99)
    assert v1.exposure == v2.exposure and np.array_equal(v1.integration, v2.integration)
    cube = assemble([v2, v1])
    assert cube.n_integrations == 200 and cube.n_visits == 2
    np.testing.assert_allclose(cube.time.mjd, two.time_bjd_tdb, rtol=0, atol=1e-9)
    np.testing.assert_allclose(cube.flux, two.flux)
    assert not any("more than once" in p.message for p in cube.problems)
    assert any(p.source == "visit2_x1dints.fits" and "same exposure identifiers" in p.message
               and "visit1_x1dints.fits" in p.message for p in cube.problems)
    # the same integrations at the same times still are duplicates, used once
    again = assemble([v1, block_from(two, range(50, 100), source="copy_x1dints.fits")])
    assert again.n_integrations == 100
    assert any("more than once" in p.message for p in again.problems)


def test_two_visits_on_one_grid_are_stacked_and_split_on_the_time_gap():
    obs2 = make_observation("transit", n_integrations=100, n_visits=2, wavelength=np.linspace(1, 2, 20), seed=4)
    v1 = block_from(obs2, range(0, 50), exposure="visit1", source="v1")
    v2 = block_from(obs2, range(50, 100), exposure="visit2", source="v2", integration_offset=-49)
    cube = assemble([v2, v1])
    assert cube.n_visits == 2
    np.testing.assert_array_equal(cube.visit, obs2.visit)
    np.testing.assert_array_equal(cube.flux, obs2.flux)
    assert cube.time_standard == "BJD_TDB" and cube.time.scale == "tdb"


def test_visits_on_different_grids_are_resampled_without_extrapolation():
    wave_a = np.linspace(1.0, 3.0, 201)
    wave_b = np.linspace(1.5, 3.5, 101)
    slope = lambda w: 2.0 + 0.5 * w  # linear in wavelength: linear resampling is exact
    a = make_observation("transit", n_integrations=10, wavelength=wave_a, seed=5)
    b = make_observation("transit", n_integrations=10, wavelength=wave_b, seed=6, t_start_bjd_mjd=60210.0)
    ba = block_from(a, range(10), exposure="A", flux=np.tile(slope(wave_a), (10, 1)))
    bb = block_from(b, range(10), exposure="B", flux=np.tile(slope(wave_b), (10, 1)))
    cube = assemble([ba, bb])
    assert cube.wavelength[0] >= 1.5 and cube.wavelength[-1] <= 3.0
    assert cube.n_wavelengths == 151  # the finer grid (a, 0.01 µm) over the common range 1.5–3.0 µm
    np.testing.assert_allclose(cube.flux, np.tile(slope(cube.wavelength), (20, 1)), rtol=1e-12)
    assert any("resampled" in p.message for p in cube.problems)


def test_nothing_usable_raises_with_the_problems():
    with pytest.raises(NoUsableData) as info:
        _assemble([], [], [Problem("x.fits", "is empty (0 bytes)")], LoadOptions(), lambda *a: None)
    assert "x.fits: is empty (0 bytes)" in str(info.value)


def test_a_refused_archive_is_listed_among_the_files_as_unused(tmp_path):
    import zipfile

    from stamp_engine import load
    from stamp_engine.synthetic.eureka import write_eureka_s3

    good = write_eureka_s3(tmp_path / "good_SpecData.h5", make_observation(n_integrations=12, seed=1))
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../escape.fits", b"SIMPLE  =                    T")
    cube = load([evil, good])
    by_source = {f["source"]: f for f in cube.meta["files"]}
    assert set(by_source) == {"evil.zip", "good_SpecData.h5"}
    assert by_source["good_SpecData.h5"]["used"] and not by_source["evil.zip"]["used"]
    assert any(p.source == "evil.zip" and p.severity == "error" for p in cube.problems)


def test_gap_messages_say_why_integrations_are_missing(obs, tmp_path):
    """Issue 9.7: a stage-3 gap is a segment the pipeline failed on; a stage-2 gap names the unreadable file."""
    from stamp_engine.synthetic.x1dints import write_segments

    s3 = [block_from(obs, np.r_[0:40, 80:120], source="o001_x1dints.fits", stage=3)]
    cube = assemble(s3)
    [gap] = [p.message for p in cube.problems if "41–80" in p.message]
    assert "did not extract them (a segment that failed in calwebb_tso3" in gap and "uploaded" not in gap
    paths = write_segments(tmp_path, obs, 3, layout="new")
    paths[1].write_bytes(paths[1].read_bytes()[:5000])  # segment 2 cut short
    cube = load(paths)
    [gap] = [p.message for p in cube.problems if "are missing" in p.message]
    assert f"(segment file {paths[1].name} of this exposure failed to read)" in gap
    cube = load([paths[0], paths[2]])
    [gap] = [p.message for p in cube.problems if "are missing" in p.message]
    assert "(a segment file of this exposure was not given)" in gap
