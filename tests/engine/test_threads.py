"""Large passes split over threads (stamp_engine.threads) give the one-thread values bit for bit.

Test cubes are far below :data:`stamp_engine.threads.MIN_ELEMENTS`, so the threshold is lowered
here, and the fill's and the median's steps are made small, so that every pass is cut into
several pieces that really run in threads (counted).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import stamp_engine
from stamp_engine import assemble, statistics, threads
from tests.engine.io.test_streamed_fill import CASES


class _CountingPool(ThreadPoolExecutor):
    submitted: list[str] = []

    def submit(self, fn, *args, **kwargs):
        def named(*a, **k):
            _CountingPool.submitted.append(threading.current_thread().name)
            return fn(*a, **k)
        return super().submit(named, *args, **kwargs)


@pytest.fixture
def many_pieces(monkeypatch):
    """Thread every pass of a test-sized cube in small steps; gives the names of the threads each piece ran in."""
    _CountingPool.submitted = []
    monkeypatch.setattr(threads, "MIN_ELEMENTS", 1)
    monkeypatch.setattr(threads, "ThreadPoolExecutor", _CountingPool)
    monkeypatch.setattr(assemble, "_FILL_STEP_VALUE_BYTES", 3 * 23 * 8)  # 3 rows of 23 per fill step
    monkeypatch.setattr(statistics, "_MEDIAN_BLOCK_COLUMNS", 4)
    monkeypatch.setattr(statistics, "_MEDIAN_BLOCK_ROWS", 7)
    monkeypatch.setenv("STAMP_ENGINE_THREADS", "3")
    return _CountingPool.submitted


def _one_thread(monkeypatch, make):
    with monkeypatch.context() as patch:
        patch.setenv("STAMP_ENGINE_THREADS", "1")
        return make()


@pytest.mark.parametrize("case", ["plain segments", "a file failing in the middle", "numbering restarted in every segment",
                                  "two visits", "NRS1 + NRS2 joined", "old layout"])
def test_load_and_normalize_in_threads_give_the_one_thread_cube(case, tmp_path, monkeypatch, many_pieces):
    paths = CASES[case][0](tmp_path)

    def ingest():
        loaded = stamp_engine.load(paths)
        return loaded, stamp_engine.normalize(loaded), stamp_engine.normalize(loaded, method="visit")

    alone = _one_thread(monkeypatch, ingest)
    assert not many_pieces
    threaded = ingest()
    assert len(many_pieces) >= 2, "the passes were not cut into pieces run in threads"
    for one, several in zip(alone, threaded):
        assert several.flux.tobytes() == one.flux.tobytes()
        assert several.error.tobytes() == one.error.tobytes()
        assert [str(p) for p in several.problems] == [str(p) for p in one.problems]
    np.testing.assert_array_equal(threaded[2].reference, alone[2].reference)
    assert np.isnan(threaded[0].flux).any()  # NaN to carry through every piece


def test_the_median_over_time_in_threads_equals_numpy(monkeypatch, many_pieces):
    rng = np.random.default_rng(7)
    values = rng.normal(1.0, 0.1, (61, 30))
    values[rng.random(values.shape) < 0.1] = np.nan
    values[:, 5] = np.nan  # a dead column
    values[:30, 17] = np.nan  # half a column
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected = np.nanmedian(values, axis=0)
    got = statistics.nanmedian_over_time(values)
    assert len(many_pieces) >= 2
    assert got.tobytes() == expected.tobytes()
    rows = np.arange(3, 61, 2)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected_rows = np.nanmedian(values[rows], axis=0)
    assert statistics.nanmedian_over_time(values, rows).tobytes() == expected_rows.tobytes()


def test_pieces_cover_the_range_once_on_aligned_boundaries(monkeypatch):
    monkeypatch.setenv("STAMP_ENGINE_THREADS", "3")
    parts = threads.pieces(100, threads.MIN_ELEMENTS, align=8)
    assert len(parts) == 3
    assert [p.start for p in parts] == [0, 40, 80] and parts[-1].stop == 100
    assert all(p.start % 8 == 0 for p in parts)
    assert np.array_equal(np.concatenate([np.arange(100)[p] for p in parts]), np.arange(100))
    assert threads.pieces(100, threads.MIN_ELEMENTS - 1) == [slice(0, 100)]  # small: the calling thread
    assert threads.pieces(2, threads.MIN_ELEMENTS, align=8) == [slice(0, 2)]  # fewer aligned parts than threads
    monkeypatch.setenv("STAMP_ENGINE_THREADS", "1")
    assert threads.pieces(100, threads.MIN_ELEMENTS) == [slice(0, 100)]


def test_the_thread_setting_is_checked(monkeypatch):
    monkeypatch.delenv("STAMP_ENGINE_THREADS", raising=False)
    cores = threads.thread_count()
    assert 1 <= cores <= threads.MAX_THREADS
    for unusable in ("many", "0"):
        monkeypatch.setenv("STAMP_ENGINE_THREADS", unusable)
        with pytest.warns(UserWarning, match=rf"^STAMP_ENGINE_THREADS='{unusable}' is not a positive number; using the default {cores}$"):
            assert threads.thread_count() == cores


def test_a_failing_piece_is_raised_after_every_piece_finished():
    finished = []

    def work(k):
        if k == 0:
            raise RuntimeError("piece 0 failed")
        threading.Event().wait(0.05)
        finished.append(k)
        return k

    with pytest.raises(RuntimeError, match="piece 0"):
        threads.map_pieces(work, [0, 1, 2])
    assert sorted(finished) == [1, 2]
    assert threads.map_pieces(lambda k: k * k, [1, 2, 3]) == [1, 4, 9]
