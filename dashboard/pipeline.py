"""Load → process → reduce for display, with every result cached on the server.

The browser never holds a cube: it holds the key :meth:`CubeService.run` returns.
Three things are cached per dataset, each under a key built from what it depends on
(:mod:`dashboard.options`):

* the loaded cube (key: content of the files) — changing a processing option
  re-processes it without re-reading files;
* the processed cube (key: content + :class:`~dashboard.options.ProcessOptions`) —
  light curves are measured on it at full resolution.  Only its recipe is stored
  (:class:`ProcessedRecipe`: which loaded cube, which options): recomputing it from the
  memory-mapped loaded cube is cheaper than writing and keeping a second cube-sized
  array set (measured by ``python -m benchmarks --section server``);
* its display-resolution copy (:func:`stamp_engine.figures.display_cube`) — surfaces,
  heatmaps and spectra are drawn from it, so display-only changes (colour scale,
  colour range, bands) re-render without reading or processing anything.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from stamp_engine.cube import Cube
from stamp_engine.progress import Progress, no_progress
from stamp_engine.recipe import ProcessOptions, process

from .options import loaded_key, processed_key

Loader = Callable[..., Cube]


class ThrottledProgress:
    """Forwards ``progress(stage, done, total)`` at most every ``interval`` seconds (and every new stage).

    Each report of a background job is a write to the job store; the loader may call
    back once per file or block, which is far more often than a progress bar redraws.
    """

    def __init__(self, sink: Progress, interval: float = 0.2):
        self._sink = sink
        self._interval = interval
        self._last = 0.0
        self._stage: str | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage != self._stage or done >= total or now - self._last >= self._interval:
            self._stage, self._last = stage, now
            self._sink(stage, done, total)


#: Largest processed cube (flux + error bytes) a web process keeps between two views of it.
REMADE_MAX_BYTES = 1 << 30


class CacheTooSmall(ValueError):
    """One result is larger than the whole cube cache (``STAMP_CACHE_SIZE_MB``)."""


@dataclass(frozen=True)
class ProcessedRecipe:
    """What the cache keeps instead of a processed full-resolution cube: how to remake it."""

    loaded_key: str
    options: ProcessOptions


class CubeService:
    """Cached loading and processing of datasets.

    Parameters
    ----------
    cache : dashboard.cache.CubeCache or mapping-like
        Shared by every web and job process (``get``/``set``; pinning, eviction and
        tickets when it is a :class:`~dashboard.cache.CubeCache`).
    loader : callable
        ``loader(paths, progress=…, workdir=…) -> Cube``; :func:`stamp_engine.load` by default
        (``workdir``: the job's scratch folder, or None).
    display_limits : dict
        Keyword arguments of :func:`stamp_engine.figures.display_cube`.
    """

    def __init__(self, cache, loader: Loader | None = None, display_limits: dict[str, int] | None = None):
        self.cache = cache
        self.loader = loader
        self.display_limits = display_limits or {}
        # The last processed cube this process remade (key, cube): band edits redraw light
        # curves from the same cube, which should not be remade each time.
        self._remade: tuple[str, Cube] | None = None
        # Loaded cubes being written to the cache while the job goes on (see :meth:`loaded`).
        self._writing: dict[str, _CacheWrite] = {}

    def _load(self, paths: Sequence[Path], progress: Progress, workdir: Path | None, element: str | None = None) -> Cube:
        chosen = {"element": element} if element else {}
        if self.loader is not None:
            return self.loader(list(paths), progress=progress, workdir=workdir, **chosen)
        from stamp_engine import load

        # An observation of several GB is streamed into a memory-mapped cube in the job's folder
        # (LoadOptions.cube_folder; smaller ones stay in memory).
        if workdir is not None:
            chosen["cube_folder"] = Path(workdir) / "cube"
        return load(list(paths), progress=progress, workdir=workdir, **chosen)

    def loaded(
        self, paths: Sequence[Path], content_key: str, progress: Progress = no_progress, *,
        workdir: Path | None = None, wait: bool = True, element: str | None = None,
    ) -> Cube:
        """The loaded cube of these files (spectral ``element``; None: the loader's default), read
        (archives expanded in ``workdir``) only when not cached.

        With ``wait=False`` a freshly read cube is written to the cache in a thread while
        the caller goes on (processing is CPU, the write is disk): :meth:`run` (or
        :meth:`finish_writes`) waits for it, and raises what the write raised.

        Raises
        ------
        stamp_engine.NoUsableData
            When no file is usable.
        """
        key = loaded_key(content_key, element)
        self._pin(key)
        pending = self._writing.get(key)
        if pending is not None:
            return pending.cube
        cube = self.cache.get(key)
        if cube is None:
            cube = self._load(paths, progress, workdir, element)
            self._writing[key] = _CacheWrite(self.cache, key, cube)
            if wait:
                self.finish_writes()
        return cube

    def finish_writes(self) -> None:
        """Wait for the loaded cubes still being written, then keep the cache within its size.

        Raises
        ------
        CacheTooSmall
            When one of them alone is larger than the cache.
        OSError
            When a write failed (e.g. the disk is full).
        """
        while self._writing:
            key, pending = self._writing.popitem()
            pending.join()
            self._evict(key)

    def run(
        self, paths: Sequence[Path], content_key: str, options: ProcessOptions, progress: Progress = no_progress,
        *, workdir: Path | None = None, element: str | None = None,
    ) -> tuple[str, Cube]:
        """Load (or reuse), process (or reuse) and reduce for display; returns the key and the loaded cube."""
        loaded = self.loaded(paths, content_key, progress, workdir=workdir, wait=False, element=element)
        key = processed_key(content_key, options, element)
        self._pin(key)  # the page that asked is about to view it
        try:
            self._process(loaded, loaded_key(content_key, element), key, options, progress)
        finally:
            self.finish_writes()
        return key, loaded

    def is_processed(self, content_key: str, options: ProcessOptions, element: str | None = None) -> bool:
        """Whether the display cube of these files processed with ``options`` is cached (nothing to compute)."""
        return self._display_key(processed_key(content_key, options, element)) in self.cache

    def _process(self, loaded: Cube, loaded_as: str, key: str, options: ProcessOptions, progress: Progress) -> None:
        if self.cache.get(self._display_key(key)) is None:
            processed = process(loaded, options, progress)
            progress("Reducing to display resolution", 0, 1)
            from stamp_engine.figures import display_cube

            self.cache.set(key, ProcessedRecipe(loaded_as, options))
            self.cache.set(key + "/shape", describe_shape(processed))
            self.cache.set(key + "/wavelength", np.asarray(processed.wavelength, dtype=float))
            self.cache.set(self._display_key(key), display_cube(processed, **self.display_limits))
            self._evict(key)

    def _pin(self, key: str) -> None:
        if hasattr(self.cache, "pin"):
            self.cache.pin(key)

    def _evict(self, made: str) -> None:
        """Keep the cache within its size; the cube just ``made`` goes last, and if it alone is too big, fails."""
        if not hasattr(self.cache, "evict"):
            return
        self.cache.evict(protect=made)
        if self.cache.volume() > self.cache.size_limit:
            self.cache.evict()
            raise CacheTooSmall(
                f"the result needs more room than the server's cube cache has "
                f"({self.cache.size_limit / 2**20:.0f} MB, STAMP_CACHE_SIZE_MB); ask for coarser binning"
            )

    def why_gone(self, key: str) -> str | None:
        """Why a cube a page held is gone, when the cache dropped it for space (see :meth:`CubeCache.why_gone`)."""
        return self.cache.why_gone(key) if hasattr(self.cache, "why_gone") and _is_cube_key(key) else None

    # ----------------------------------------------------- session tickets
    def issue(self, key: str, session: str | None) -> str:
        """A ticket the browser of ``session`` holds instead of the key (see :mod:`dashboard.cache`)."""
        return self.cache.issue(key, session)

    def redeem(self, ticket: Any, session: Any) -> str | None:
        """The key behind a ticket, only for the session it was issued to; None otherwise."""
        return self.cache.redeem(ticket, session)

    def shape(self, key: str) -> str:
        """One line describing the processed cube (for the summary card)."""
        return self.cache.get(key + "/shape", "") if _is_cube_key(key) else ""

    def wavelength(self, key: str) -> np.ndarray | None:
        """The processed cube's wavelength samples (µm), small enough to read on every band edit."""
        return self.cache.get(key + "/wavelength") if _is_cube_key(key) else None

    def processed(self, key: str) -> Cube | None:
        """The processed cube at full resolution (remade from the cached loaded cube), or None if evicted."""
        entry = self.cache.get(key) if _is_cube_key(key) else None
        if not isinstance(entry, ProcessedRecipe):
            return entry
        self._pin(entry.loaded_key)  # a page still uses it: keep the loaded cube as long as its view
        remade = self._remade
        if remade is not None and remade[0] == key:
            return remade[1]
        loaded = self.cache.get(entry.loaded_key)
        if loaded is None:
            return None
        cube = process(loaded, entry.options)
        # kept for the next view only when modest: a web process must not sit on GBs between views
        self._remade = (key, cube) if cube.nbytes <= REMADE_MAX_BYTES else None
        return cube

    def display(self, key: str) -> Cube | None:
        """The processed cube at display resolution, or None if evicted."""
        return self.cache.get(self._display_key(key)) if _is_cube_key(key) else None

    def _display_key(self, key: str) -> str:
        limits = "x".join(str(v) for _, v in sorted(self.display_limits.items()))
        return f"{key}/display/{limits}"


class _CacheWrite:
    """``cache.set(key, cube)`` in a thread of its own; :meth:`join` re-raises what it raised."""

    def __init__(self, cache, key: str, cube: Cube):
        self.cube = cube
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write, args=(cache, key, cube), name=f"cache-write {key[:20]}")
        self._thread.start()

    def _write(self, cache, key: str, cube: Cube) -> None:
        try:
            cache.set(key, cube)
        except BaseException as exc:  # noqa: BLE001 - handed to the job's thread by join()
            self._error = exc

    def join(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


def describe_shape(cube: Cube) -> str:
    """``"600 integrations × 430 wavelengths, 2 visit(s), variability %"`` (interpolated rows counted apart)."""
    from .summary import integrations_text

    kind = "variability %" if cube.is_normalized else f"flux ({cube.flux_unit.to_string() or 'dimensionless'})"
    return f"{integrations_text(cube)} × {cube.n_wavelengths} wavelengths, {cube.n_visits} visit(s), {kind}"


def _is_cube_key(key: Any) -> bool:
    return isinstance(key, str) and key.startswith("processed-") and len(key) < 100
