"""Filling the cube while the files are read gives the cube of filling it afterwards, bit for bit.

The reader child hands each file back as soon as it is read, and the parent copies its spectra
then (``assemble._Stager``), while the child reads the next file; when the cube is exactly
those rows in order, the copies are the cube.  Here every awkward input is loaded twice through
the reader child: streamed (as shipped) and sequential (the staging switched off, so the fill
reads every file after all were read, as before); flux and error must have the same bytes
(NaN included), and everything else the same values and problems.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import stamp_engine
from stamp_engine import assemble
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.x1dints import Element, write_segments, write_x1dints


def _observation(n: int = 40, width: int = 23, seed: int = 3, **kwargs):
    """NaN columns, scattered NaN flux, zero and NaN errors: every rule of the fill has work."""
    obs = make_observation("transit", n_integrations=n, wavelength=np.linspace(1.0, 2.0, width), cadence_s=30.0,
                           seed=seed, nan_columns=(0, width // 2), **kwargs)
    rng = np.random.default_rng(seed)
    obs.flux = obs.flux.copy()
    obs.error = obs.error.copy()
    obs.flux[rng.random(obs.flux.shape) < 0.05] = np.nan
    obs.error[rng.random(obs.error.shape) < 0.03] = 0.0
    obs.error[rng.random(obs.error.shape) < 0.03] = np.nan
    return obs


def _segment(folder: Path, obs, rows, segment: int, total: int, **kwargs) -> Path:
    return write_x1dints(folder / f"jw01234001001_04101_00001-seg{segment:03d}_nrs1_x1dints.fits", obs,
                         rows=rows, segment=segment, segment_total=total, **kwargs)


def _plain(folder: Path) -> list[Path]:
    return write_segments(folder, _observation(), n_segments=4)


def _failing_in_the_middle(folder: Path) -> list[Path]:
    paths = write_segments(folder, _observation(), n_segments=4)
    paths[1].write_bytes(paths[1].read_bytes()[:5000])  # cut short inside its spectra
    return paths


def _restarted_numbering(folder: Path) -> list[Path]:
    obs = _observation()
    return [_segment(folder, obs, slice(a, b), k + 1, 3, local_int_num=True, int_times="none")
            for k, (a, b) in enumerate([(0, 15), (15, 30), (30, 40)])]


def _overlapping_segments(folder: Path) -> list[Path]:
    obs = _observation()
    return [_segment(folder, obs, slice(a, b), k + 1, 3) for k, (a, b) in enumerate([(0, 18), (12, 30), (30, 40)])]


def _one_integration_file(folder: Path) -> list[Path]:
    obs = _observation()
    return [_segment(folder, obs, slice(a, b), k + 1, 3) for k, (a, b) in enumerate([(0, 20), (20, 21), (21, 40)])]


def _descending_wavelengths(folder: Path) -> list[Path]:
    return write_segments(folder, _observation(), n_segments=3, descending=True)


def _given_out_of_order(folder: Path) -> list[Path]:
    return write_segments(folder, _observation(), n_segments=3)[::-1]


def _two_detectors(folder: Path) -> list[Path]:
    nrs1 = _observation(seed=4)
    nrs2 = replace(_observation(seed=5), wavelength=np.linspace(2.1, 3.1, 23))
    return write_segments(folder, nrs1, n_segments=2, extra_spectra=[(Element(detector="NRS2"), nrs2)])


def _two_visits(folder: Path) -> list[Path]:
    return write_segments(folder, _observation(n=60, n_visits=2), n_segments=2)


def _old_layout(folder: Path) -> list[Path]:
    return write_segments(folder, _observation(n=24), n_segments=3, layout="old")


CASES = {
    "plain segments": (_plain, True),
    "a file failing in the middle": (_failing_in_the_middle, True),
    "numbering restarted in every segment": (_restarted_numbering, True),
    "overlapping segments": (_overlapping_segments, False),
    "a one-integration file": (_one_integration_file, True),
    "descending wavelengths": (_descending_wavelengths, True),
    "files given out of order": (_given_out_of_order, False),
    "NRS1 + NRS2 joined": (_two_detectors, False),
    "two visits": (_two_visits, False),
    "old layout": (_old_layout, True),
}


def _load(paths, monkeypatch, *, streamed: bool):
    made = []
    original = assemble._cube_array
    with monkeypatch.context() as patch:
        patch.setattr(assemble, "_cube_array", lambda *a: made.append(a) or original(*a))
        if not streamed:
            patch.setattr(assemble._Stager, "arrived", lambda self, index, outcome: None)
        cube = stamp_engine.load(paths)
    return cube, bool(made)


@pytest.mark.parametrize("case", list(CASES))
def test_the_streamed_fill_gives_the_sequential_cube_bit_for_bit(case, tmp_path, monkeypatch):
    make, staged_is_the_cube = CASES[case]
    paths = make(tmp_path)
    streamed, allocated = _load(paths, monkeypatch, streamed=True)
    sequential, _ = _load(paths, monkeypatch, streamed=False)

    assert streamed.flux.shape == sequential.flux.shape
    assert streamed.flux.tobytes() == sequential.flux.tobytes()
    assert streamed.error.tobytes() == sequential.error.tobytes()
    for name in ("wavelength", "integration", "source_index", "visit"):
        np.testing.assert_array_equal(getattr(streamed, name), getattr(sequential, name), err_msg=name)
    np.testing.assert_array_equal(streamed.time.mjd, sequential.time.mjd)
    assert streamed.sources == sequential.sources
    assert [str(p) for p in streamed.problems] == [str(p) for p in sequential.problems]
    assert streamed.meta == sequential.meta
    # the data were awkward where they should be
    assert np.isnan(streamed.flux).any() and np.isnan(streamed.error).any()
    if case == "a file failing in the middle":
        assert any("seg002" in p.source and p.severity == "error" for p in streamed.problems)
    if case == "overlapping segments":
        assert any("more than once" in p.message for p in streamed.problems)
    # the usual observation is filled without a second cube: the staged rows are the cube
    assert allocated is not staged_is_the_cube


def test_a_cube_made_of_the_staged_rows_can_be_normalized_in_place(tmp_path, monkeypatch):
    paths = _plain(tmp_path)
    cube, allocated = _load(paths, monkeypatch, streamed=True)
    assert not allocated
    reference = stamp_engine.normalize(cube)
    in_place = stamp_engine.normalize(cube, in_place=True)
    assert in_place.flux is cube.flux  # written into the staged rows themselves
    assert in_place.flux.tobytes() == reference.flux.tobytes()
    assert in_place.error.tobytes() == reference.error.tobytes()


def test_staging_stops_below_the_cube_folder_threshold_and_the_cube_goes_to_the_folder(tmp_path, monkeypatch):
    paths = _plain(tmp_path / "in")
    sequential, _ = _load(paths, monkeypatch, streamed=False)
    mapped = stamp_engine.load(paths, cube_folder=tmp_path / "cube", cube_folder_min_bytes=1)
    assert isinstance(mapped.flux, np.memmap)
    assert mapped.flux.tobytes() == sequential.flux.tobytes()
    assert mapped.error.tobytes() == sequential.error.tobytes()
