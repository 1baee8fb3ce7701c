"""The cube cache stores cubes as memory-mapped ``.npy`` entries: reopened without copying,
evicted whole, and a damaged entry is dropped (and made again) instead of crashing a view."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import numpy as np
import pytest

from dashboard.cache import ARRAY_FILE_MIN_BYTES, CubeCache, StoredCube
from stamp_engine.synthetic import make_observation


def _cube(n_integrations: int = 200, n_wavelengths: int = 300, seed: int = 3):
    observation = make_observation(n_integrations=n_integrations, wavelength=np.linspace(1.0, 5.0, n_wavelengths),
                                   seed=seed, nan_columns=(0, min(7, n_wavelengths - 1)))
    return observation.to_cube()


def _array_file(cache: CubeCache, key: str) -> Path:
    with cache.disk.get(key, read=True) as handle:
        return Path(handle.name)


def test_a_cube_is_stored_as_npy_files_and_reopens_memory_mapped_with_equal_values(tmp_path):
    cube = _cube()
    assert cube.flux.nbytes >= ARRAY_FILE_MIN_BYTES  # so flux and error get files of their own
    cache = CubeCache(tmp_path / "cubes", size_limit=10**9)
    cache.set("loaded-abc", cube)

    manifest = cache.disk.get("loaded-abc")
    assert isinstance(manifest, StoredCube) and set(manifest.arrays) == {"flux", "error"}
    assert len(pickle.dumps(manifest)) < cube.flux.nbytes / 20  # the manifest holds no cube-sized array
    flux_file = _array_file(cache, manifest.arrays["flux"])
    assert flux_file.read_bytes()[:6] == b"\x93NUMPY"  # an ordinary .npy file, not a pickle
    assert np.array_equal(np.load(flux_file, allow_pickle=False), cube.flux, equal_nan=True)

    again = cache.get("loaded-abc")
    for name in ("flux", "error"):
        array = getattr(again, name)
        assert type(array) is np.ndarray and np.array_equal(array, getattr(cube, name), equal_nan=True)
        # not copied into memory: the data is a view of a memory map of the entry's file
        assert isinstance(array.base, np.memmap) and not array.flags.owndata
    assert np.array_equal(again.wavelength, cube.wavelength)
    assert np.allclose(again.time.jd, cube.time.jd, rtol=0, atol=1e-12)
    assert again.flux_unit == cube.flux_unit and again.meta == cube.meta and again.history == cube.history
    assert np.array_equal(again.visit, cube.visit) and again.sources == cube.sources


def test_a_reopened_cube_can_be_processed_and_writing_to_it_never_touches_the_cache(tmp_path):
    cube = _cube()
    cache = CubeCache(tmp_path / "cubes", size_limit=10**9)
    cache.set("loaded-abc", cube)
    reopened = cache.get("loaded-abc")
    normalized = reopened.normalize()
    assert np.allclose(normalized.flux, cube.normalize().flux, equal_nan=True)
    reopened.flux[5, 5] = 1e30  # copy-on-write map: the stored entry keeps its values
    assert cache.get("loaded-abc").flux[5, 5] == cube.flux[5, 5]


def test_eviction_removes_a_cubes_array_files_with_it_and_counts_their_bytes(tmp_path):
    cube = _cube()
    one_cube = cube.flux.nbytes + cube.error.nbytes
    cache = CubeCache(tmp_path / "cubes", size_limit=int(2.5 * one_cube))
    cache.set("loaded-old", cube)
    old_files = [_array_file(cache, k) for k in cache.disk.get("loaded-old").arrays.values()]
    assert cache.volume() >= one_cube  # the .npy files count towards the size limit
    cache.set("loaded-new", cube)
    cache.get("loaded-new")  # new was used after old
    cache.set("processed-newest", cube)
    removed = cache.evict(protect="processed-newest")
    assert {k.split("/")[0] for k in removed} == {"loaded-old"}
    assert "loaded-old/array/flux" in removed and "loaded-old/array/error" in removed
    assert not any(path.exists() for path in old_files)
    assert cache.get("loaded-old") is None and cache.get("loaded-new") is not None
    assert cache.volume() <= cache.size_limit


def test_a_cube_mapped_by_a_page_stays_readable_after_its_entry_is_evicted(tmp_path):
    cube = _cube()
    cache = CubeCache(tmp_path / "cubes", size_limit=10**9)
    cache.set("processed-x", cube)
    shown = cache.get("processed-x")
    cache.size_limit = 1
    cache.evict()
    assert cache.get("processed-x") is None
    assert np.array_equal(shown.flux, cube.flux, equal_nan=True)  # the unlinked file stays mapped


@pytest.mark.parametrize("damage", ["truncate", "garbage header", "delete file"])
def test_a_damaged_array_entry_is_dropped_with_a_log_line_and_the_cube_is_made_again(tmp_path, caplog, damage):
    from dashboard.pipeline import CubeService

    cube = _cube()
    calls = []

    def loader(paths, progress, workdir=None):
        calls.append(paths)
        return cube

    cache = CubeCache(tmp_path / "cubes", size_limit=10**9)
    service = CubeService(cache, loader=loader)
    service.loaded([Path("a.fits")], "content")
    assert len(calls) == 1
    key = next(k for k in cache.disk if isinstance(k, str) and k.endswith("/array/flux"))
    path = _array_file(cache, key)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage header":
        path.write_bytes(b"not an npy file at all" + path.read_bytes()[22:])
    else:
        path.unlink()
    with caplog.at_level(logging.WARNING, logger="stamp.cache"):
        again = service.loaded([Path("a.fits")], "content")
    assert len(calls) == 2  # read again from the files instead of failing
    assert np.array_equal(again.flux, cube.flux, equal_nan=True)
    if damage != "delete file":
        assert "unreadable" in caplog.text and "dropped" in caplog.text
    # the fresh entry is healthy: the next view reuses it
    service.loaded([Path("a.fits")], "content")
    assert len(calls) == 2


def test_a_damaged_manifest_is_treated_as_absent(tmp_path, caplog):
    cube = _cube()
    cache = CubeCache(tmp_path / "cubes", size_limit=10**9)
    cache.set("loaded-abc", cube)
    cache.disk.set("loaded-abc", StoredCube(type(cube), {"flux_unit": cube.flux_unit}, {}))  # fields missing
    with caplog.at_level(logging.WARNING, logger="stamp.cache"):
        assert cache.get("loaded-abc") is None
    assert "loaded-abc" not in cache and not any(str(k).startswith("loaded-abc/array/") for k in cache.disk)


def test_small_values_and_small_cubes_still_round_trip(tmp_path):
    cache = CubeCache(tmp_path / "cubes", size_limit=10**9)
    tiny = _cube(n_integrations=4, n_wavelengths=5)
    cache.set("processed-t", tiny)
    assert cache.disk.get("processed-t").arrays == {}  # nothing worth a file
    assert np.array_equal(cache.get("processed-t").flux, tiny.flux, equal_nan=True)
    cache.set("processed-t/wavelength", np.arange(3.0))
    assert np.array_equal(cache.get("processed-t/wavelength"), np.arange(3.0))
    assert cache.get("processed-missing", "fallback") == "fallback"


def test_the_processed_full_resolution_cube_is_remade_from_the_loaded_one_not_stored(tmp_path):
    from dashboard.pipeline import CubeService, ProcessedRecipe
    from stamp_engine.recipe import ProcessOptions, process

    cube = _cube()
    cache = CubeCache(tmp_path / "cubes", size_limit=10**9)
    service = CubeService(cache, loader=lambda paths, progress, workdir=None: cube, display_limits={"max_time": 50})
    options = ProcessOptions()
    key, _ = service.run([Path("a.fits")], "content", options)
    assert isinstance(cache.disk.get(key), ProcessedRecipe)
    stored_arrays = [k for k in cache.disk if isinstance(k, str) and "/array/" in k]
    assert all(k.startswith("loaded-") for k in stored_arrays)  # only the loaded cube's arrays are on disk
    expected = process(cube, options)
    remade = service.processed(key)
    assert np.array_equal(remade.flux, expected.flux, equal_nan=True)
    assert np.array_equal(remade.error, expected.error, equal_nan=True) and remade.history == expected.history
    assert service.display(key).n_integrations <= 50
    # the loaded cube gone (evicted): another web process finds the processed one gone too (no crash)
    for k in stored_arrays:
        cache.disk.delete(k)
    assert CubeService(cache, loader=None, display_limits={"max_time": 50}).processed(key) is None


def test_a_remade_processed_cube_is_reused_for_the_next_view_of_the_same_key(tmp_path):
    from dashboard.pipeline import CubeService
    from stamp_engine.recipe import ProcessOptions

    cache = CubeCache(tmp_path / "cubes", size_limit=10**9)
    service = CubeService(cache, loader=lambda paths, progress, workdir=None: _cube())
    key_a, _ = service.run([Path("a.fits")], "content", ProcessOptions())
    key_b, _ = service.run([Path("a.fits")], "content", ProcessOptions(bin_time=2))
    first = service.processed(key_a)
    assert service.processed(key_a) is first  # band edits redraw from the same cube
    other = service.processed(key_b)
    assert other is not first and other.n_integrations == first.n_integrations // 2


def _rss_bytes() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))


def test_filling_the_cube_releases_the_pages_of_read_only_input_maps_and_never_changes_values(tmp_path):
    from stamp_engine.assemble import _release_pages

    values = np.arange(8 * 1024 * 1024, dtype=np.float64).reshape(4096, 2048)  # 64 MiB
    path = tmp_path / "input.npy"
    np.save(path, values)
    mapped = np.load(path, mmap_mode="r")
    float(mapped.sum())  # every page resident
    before = _rss_bytes()
    _release_pages(mapped, slice(0, 4096))
    assert before - _rss_bytes() > 48 * 2**20  # the copied pages left this process
    assert np.array_equal(mapped, values)  # and read back from the file when touched again

    private = np.load(path, mmap_mode="c")  # a copy-on-write map may hold changes: left alone
    private[0, 0] = -1.0
    _release_pages(private, slice(0, 4096))
    assert private[0, 0] == -1.0
    in_memory = values.copy()
    _release_pages(in_memory, slice(0, 10))  # not a map: nothing to do
    assert np.array_equal(in_memory, values)


def test_a_job_writes_the_loaded_cube_while_processing_and_is_done_only_when_it_is_written(tmp_path):
    from dashboard.pipeline import CubeService
    from stamp_engine.recipe import ProcessOptions

    cache = CubeCache(tmp_path / "cubes", size_limit=10**9)
    service = CubeService(cache, loader=lambda paths, progress, workdir=None: _cube())
    loaded = service.loaded([Path("a.fits")], "content", wait=False)  # as the job does
    assert service.loaded([Path("a.fits")], "content", wait=False) is loaded  # no second read meanwhile
    service.run([Path("a.fits")], "content", ProcessOptions())
    from dashboard.options import loaded_key

    stored = cache.get(loaded_key("content"))
    assert stored is not None and isinstance(stored.flux.base, np.memmap)
    assert np.array_equal(stored.flux, loaded.flux, equal_nan=True)


def test_a_failed_background_write_fails_the_job_with_its_error(tmp_path):
    from dashboard.pipeline import CubeService
    from stamp_engine.recipe import ProcessOptions

    class FullDisk(CubeCache):
        def set(self, key, value):
            if isinstance(value, type(_cube(4, 5))):
                raise OSError(28, "No space left on device")
            super().set(key, value)

    service = CubeService(FullDisk(tmp_path / "cubes", size_limit=10**9), loader=lambda paths, progress, workdir=None: _cube())
    with pytest.raises(OSError, match="No space left"):
        service.run([Path("a.fits")], "content", ProcessOptions())


def test_a_large_remade_cube_is_not_kept_between_views(tmp_path, monkeypatch):
    from dashboard import pipeline
    from stamp_engine.recipe import ProcessOptions

    service = pipeline.CubeService(CubeCache(tmp_path / "cubes", size_limit=10**9), loader=lambda paths, progress, workdir=None: _cube())
    key, _ = service.run([Path("a.fits")], "content", ProcessOptions())
    monkeypatch.setattr(pipeline, "REMADE_MAX_BYTES", 1000)
    first = service.processed(key)
    again = service.processed(key)
    assert again is not first and np.array_equal(again.flux, first.flux, equal_nan=True)


@pytest.mark.parametrize("threads", ["2", "1"])
def test_flux_and_error_are_written_side_by_side_unless_one_thread_is_configured(tmp_path, monkeypatch, threads):
    import threading

    monkeypatch.setenv("STAMP_ENGINE_THREADS", threads)
    cube = _cube()
    cache = CubeCache(tmp_path / "cubes", size_limit=10**9)
    writing: dict[str, str] = {}
    both_open = threading.Barrier(2, timeout=5)
    plain_set = cache.disk.set

    def recording_set(key, value, *args, **kwargs):
        if kwargs.get("read"):
            writing[key] = threading.current_thread().name
            if threads == "2":
                both_open.wait()  # returns only when the other array is being written at the same time
        return plain_set(key, value, *args, **kwargs)

    monkeypatch.setattr(cache.disk, "set", recording_set)
    cache.set("loaded-abc", cube)
    assert len(writing) == 2 and len(set(writing.values())) == int(threads), writing
    again = cache.get("loaded-abc")
    for name in ("flux", "error"):
        assert np.array_equal(getattr(again, name), getattr(cube, name), equal_nan=True)
