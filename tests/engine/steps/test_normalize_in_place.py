"""Ingest without a second cube: normalizing in place, and filling the cube in small steps.

``normalize(cube, in_place=True)`` writes the variability into the loaded cube's own arrays
(the ingest path: ``stamp render`` and the ingest benchmark), and the assembler copies
memory-mapped files into the cube in steps of ``_FILL_STEP_BYTES``, marking unknown errors
step by step.  Both must give exactly the values of the reference path, on awkward data.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest

import stamp_engine
from stamp_engine import assemble
from stamp_engine.io.sandbox import ReadLimits
from stamp_engine.recipe import ProcessOptions, process
from stamp_engine.steps import normalize
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.x1dints import write_segments

METHODS = [("median", None), ("visit", None), ("baseline", (0.0, 0.4))]


def _awkward_observation():
    """Two visits (each its own exposure, numbered from 1 again), the second of ONE integration;
    NaN columns, scattered NaN, zero and NaN errors, and a flux of exactly 0 in one column."""
    obs = make_observation("transit", n_integrations=90, n_visits=2, wavelength=np.linspace(1.0, 3.0, 37),
                           cadence_s=40.0, seed=11, nan_columns=(0, 17, 36))
    first_visit = np.flatnonzero(obs.visit == 0)
    one_of_second = np.flatnonzero(obs.visit == 1)[:1]
    obs = obs.take(np.concatenate([first_visit, one_of_second]))
    rng = np.random.default_rng(5)
    obs.flux = obs.flux.copy()
    obs.error = obs.error.copy()
    obs.flux[rng.random(obs.flux.shape) < 0.03] = np.nan
    obs.error[rng.random(obs.error.shape) < 0.02] = 0.0
    obs.error[rng.random(obs.error.shape) < 0.02] = np.nan
    obs.flux[:, 5] = 0.0  # a zero reference: variability NaN there
    return obs


@pytest.fixture(scope="module")
def awkward_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("awkward")
    obs = _awkward_observation()
    first, second = (np.flatnonzero(obs.visit == v) for v in (0, 1))
    paths = (write_segments(folder, obs.take(first), n_segments=3, layout="new", stage=2)
             + write_segments(folder, replace(obs.take(second), meta={**obs.meta, "observation": "002"}),
                              n_segments=1, layout="new", stage=2))
    return obs, paths


def _load(paths):
    return stamp_engine.load(paths, read_limits=ReadLimits(isolate=False))


def _copy(cube):
    return cube.replace(flux=cube.flux.copy(), error=cube.error.copy())


def test_the_awkward_files_are_what_the_test_needs(awkward_files):
    obs, paths = awkward_files
    cube = _load(paths)
    assert cube.n_visits == 2 and int(np.sum(cube.visit == 1)) == 1
    assert len(set(cube.meta["exposures"])) == 2  # two exposures, integration numbers restart at 1
    assert np.all(np.isnan(cube.flux[:, 0])) and np.isnan(cube.flux).any(axis=0).sum() > 20


@pytest.mark.parametrize("method,baseline", METHODS)
def test_in_place_normalize_equals_the_copying_one_bit_for_bit(awkward_files, method, baseline):
    _, paths = awkward_files
    loaded = _load(paths)
    expected = normalize(_copy(loaded), method, baseline)
    flux_buffer = loaded.flux
    got = normalize(loaded, method, baseline, in_place=True)
    assert np.shares_memory(got.flux, flux_buffer)  # really in place: no second cube
    np.testing.assert_array_equal(got.flux, expected.flux)
    np.testing.assert_array_equal(got.error, expected.error)
    np.testing.assert_array_equal(got.reference, expected.reference)
    assert got.history == expected.history and got.flux_unit == expected.flux_unit


def test_in_place_normalize_matches_the_textbook_formula(awkward_files):
    obs, paths = awkward_files
    got = normalize(_load(paths), "visit", in_place=True)
    flux = obs.flux
    expected = np.empty_like(flux)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        for v in (0, 1):
            rows = obs.visit == v
            reference = np.nanmedian(flux[rows], axis=0)
            reference[reference == 0] = np.nan
            expected[rows] = (flux[rows] / reference - 1.0) * 100.0
    np.testing.assert_array_equal(np.isnan(got.flux), np.isnan(expected))
    np.testing.assert_allclose(got.flux, expected, rtol=1e-12, atol=1e-12, equal_nan=True)
    # the visit of one integration is its own reference: 0 % (to rounding) wherever it has data
    single = got.flux[got.visit == 1]
    assert np.isfinite(single).sum() > 20 and np.nanmax(np.abs(single)) < 1e-12


def test_in_place_leaves_arrays_it_may_not_write_and_makes_new_ones(awkward_files):
    _, paths = awkward_files
    loaded = _load(paths)
    frozen = loaded.flux.copy()
    frozen.flags.writeable = False  # as a memory-mapped cube from the cache
    before = frozen.copy()
    got = normalize(loaded.replace(flux=frozen), in_place=True)
    np.testing.assert_array_equal(frozen, before)
    assert not np.shares_memory(got.flux, frozen)
    np.testing.assert_array_equal(got.flux, normalize(_copy(loaded)).flux)


def test_process_in_place_equals_process(awkward_files):
    _, paths = awkward_files
    options = ProcessOptions(normalization="visit", bin_time=2)
    expected = process(_load(paths), options)
    got = process(_load(paths), options, in_place=True)
    np.testing.assert_array_equal(got.flux, expected.flux)
    np.testing.assert_array_equal(got.error, expected.error)


def test_filling_in_small_steps_equals_filling_at_once(awkward_files, monkeypatch):
    obs, paths = awkward_files
    at_once = _load(paths)
    # three rows of the FITS table per step: many steps per segment, the last one short
    row_bytes = 8 * obs.flux.shape[1] * 4
    monkeypatch.setattr(assemble, "_FILL_STEP_BYTES", 3 * row_bytes)
    stepped = _load(paths)
    np.testing.assert_array_equal(stepped.flux, at_once.flux)
    np.testing.assert_array_equal(stepped.error, at_once.error)
    np.testing.assert_array_equal(stepped.integration, at_once.integration)
    # unknown errors (0, NaN, or under a NaN flux) are NaN; the others are the file's
    unknown = ~(obs.error > 0) | np.isnan(obs.flux)
    np.testing.assert_array_equal(np.isnan(stepped.error), unknown)
    np.testing.assert_array_equal(stepped.error[~unknown], obs.error[~unknown])


def test_overlapping_exposures_normalize_in_place_like_the_copy(tmp_path):
    """Two segments given twice over (the same integrations in two files): the cube keeps each
    integration once, and the in-place result still equals the copying one."""
    obs = _awkward_observation().take(slice(0, 45))
    first = write_segments(tmp_path / "a", obs, n_segments=2, layout="new", stage=2)
    again = write_segments(tmp_path / "b", obs, n_segments=3, layout="new", stage=2)
    loaded = _load(first + again[1:])
    assert loaded.n_integrations == 45
    assert any("more than once" in p.message for p in loaded.problems)
    expected = normalize(_copy(loaded))
    got = normalize(loaded, in_place=True)
    np.testing.assert_array_equal(got.flux, expected.flux)
    np.testing.assert_array_equal(got.error, expected.error)


def test_a_memory_mapped_cube_equals_the_in_memory_one_and_leaves_no_file(awkward_files, tmp_path):
    _, paths = awkward_files
    folder = tmp_path / "cube"
    in_memory = _load(paths)
    small = stamp_engine.load(paths, read_limits=ReadLimits(isolate=False), cube_folder=folder)
    assert not isinstance(small.flux, np.memmap)  # below cube_folder_min_bytes: in memory
    mapped = stamp_engine.load(paths, read_limits=ReadLimits(isolate=False), cube_folder=folder,
                               cube_folder_min_bytes=0)
    assert isinstance(mapped.flux, np.memmap) and isinstance(mapped.error, np.memmap)
    assert list(folder.iterdir()) == []  # unlinked at once: the map alone holds the pages
    np.testing.assert_array_equal(mapped.flux, in_memory.flux)
    np.testing.assert_array_equal(mapped.error, in_memory.error)
    np.testing.assert_array_equal(mapped.visit, in_memory.visit)
    # the ingest path on it: normalized in place, in the map, to the same bits
    expected = normalize(in_memory, "visit")
    got = normalize(mapped, "visit", in_place=True)
    assert np.shares_memory(got.flux, mapped.flux)
    np.testing.assert_array_equal(got.flux, expected.flux)
    np.testing.assert_array_equal(got.error, expected.error)


@pytest.mark.parametrize("shape", [(7, 13), (2000, 2040), (9,)])
def test_a_flag_mask_comes_back_from_the_reader_process_bit_for_bit(tmp_path, shape):
    """Masks travel bit-packed from the reader child (no .npy written); odd widths keep their last bits."""
    from stamp_engine.io import sandbox
    from stamp_engine.io.containers import InputFile

    mask = np.random.default_rng(1).random(shape) < 0.3
    mask[..., -1] = True  # the last value of a row, in the padding byte of the packed form
    source = tmp_path / "source.fits"
    ref = sandbox._export_array(mask, InputFile(source, source.name), source, tmp_path / "mask.npy")
    assert ref[0] == "bits" and not (tmp_path / "mask.npy").exists()
    back = sandbox._import_array(ref, tmp_path / "source.fits", {})
    assert back.dtype == bool and back.shape == mask.shape
    np.testing.assert_array_equal(back, mask)
