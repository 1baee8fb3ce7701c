"""The processed-cube cache: size-bounded, least recently used evicted, viewed cubes pinned, per-session tickets.

One :class:`diskcache.Cache` in ``<STAMP_CACHE_DIR>/cubes`` holds every cube; all web
workers, local job processes and Celery workers open the same folder, which is how
a cube processed on a worker is drawn by any web process (with Celery on several
machines ``STAMP_CACHE_DIR`` must be a shared folder — uploads live there too).

Isolation: the browser never holds a cache key.  A finished job hands its page a
random *ticket* bound to the page's session id (:meth:`CubeCache.issue`); the views
turn a ticket back into a cube only for that same session (:meth:`CubeCache.redeem`),
so a forged ticket, or another session's, shows nothing.

Eviction: diskcache's own culling cannot skip entries, so it is switched off
(``cull_limit=0``) and :meth:`CubeCache.evict` removes whole cubes itself: least
recently used first, sparing every cube a session viewed within ``pin_seconds`` (each
view renews the pin) — until only pinned cubes are left.  Then pins yield to the
limit, oldest pin first: the cache never stays over its size, and a page whose cube
was dropped is told why (:meth:`CubeCache.why_gone`).  Last use is kept in small
``used-`` entries of the cache itself (diskcache has no public way to list keys by
access time); eviction uses diskcache's public API only (iteration, ``get``, ``delete``,
``volume``).

Cubes are stored as memory-mappable ``.npy`` files, not pickles: each large array of a
:class:`~stamp_engine.cube.Cube` (flux, error, …) is written once, raw, as its own
diskcache file entry (``<key>/array/<field>``), and a small pickled :class:`StoredCube`
under ``<key>`` lists them with the cube's other fields.  :meth:`CubeCache.get` maps the
files back copy-on-write: reopening a 300 MB cube reads nothing until a page of it is
used, and a second page or a reprocess on the same data does not decode hundreds of MB.
Because the array entries are ordinary diskcache files their bytes count in
:meth:`CubeCache.volume` and eviction removes them with their cube.  An entry whose file
is missing, truncated or unreadable is logged, deleted and reported as absent, so the
cube is simply made again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import pickle
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from stamp_engine.cube import Cube
from stamp_engine.threads import map_pieces, thread_count

log = logging.getLogger("stamp.cache")

_PIN = "pin-"
_TICKET = "ticket-"
_USED = "used-"
_DROPPED = "dropped-"
#: Keys of small bookkeeping entries that eviction leaves alone.
_BOOKKEEPING = (_PIN, _TICKET, _USED, _DROPPED, "jobs-", "health-")

#: What a page is told when its cube was dropped to keep the cache within its size.
DROPPED_FOR_SPACE = (
    "This result was dropped from the server's cube cache to keep it within its size limit "
    "(STAMP_CACHE_SIZE_MB) while newer results were made: press Process again."
)
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
#: Arrays at least this large are stored as their own memory-mappable ``.npy`` file; smaller
#: ones (times, visit labels, the wavelength grid) travel inside the pickled manifest.
ARRAY_FILE_MIN_BYTES = 256 * 1024
_ARRAY = "/array/"
_CHUNK = 4 * 1024 * 1024
#: What a damaged entry can raise while being read back: it is then treated as absent.
_UNREADABLE = (OSError, ValueError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError)


@dataclass(frozen=True)
class StoredCube:
    """The pickled part of a cached :class:`~stamp_engine.cube.Cube`.

    Attributes
    ----------
    cube_type : type
        The cube's class (rebuilt with its own constructor, so its checks run).
    fields : dict
        Constructor arguments kept inline (small arrays, time, unit, meta, history…).
    arrays : dict
        Constructor argument → cache key of its ``.npy`` file entry.
    """

    cube_type: type
    fields: dict[str, Any]
    arrays: dict[str, str]


class _NpyStream:
    """A file-like ``read()`` over an array's ``.npy`` bytes, without building them in memory.

    diskcache's ``set(…, read=True)`` copies from it in chunks straight to the entry's
    file: the only copy of the data is the one written to disk.
    """

    def __init__(self, array: np.ndarray):
        import io

        header = io.BytesIO()
        np.lib.format.write_array_header_2_0(header, np.lib.format.header_data_from_array_1_0(array))
        self._pieces: Iterator[memoryview] = iter(
            [memoryview(header.getvalue()), *_chunks(memoryview(array.reshape(-1).view(np.uint8)))]
        )

    def read(self, size: int = -1) -> bytes | memoryview:
        return next(self._pieces, b"")


def _chunks(data: memoryview) -> list[memoryview]:
    return [data[i:i + _CHUNK] for i in range(0, len(data), _CHUNK)]


def _map_npy(handle) -> np.ndarray:
    """Memory-map (copy-on-write) the ``.npy`` file open in ``handle``; a plain ndarray view."""
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
    else:
        raise ValueError(f"unsupported .npy version {version}")
    if dtype.hasobject:
        raise ValueError("a cached array holds Python objects")
    offset = handle.tell()
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = handle.seek(0, 2)
    if actual != expected:
        raise ValueError(f"the array file has {actual} bytes, its header says {expected}")
    if expected == offset:
        return np.empty(shape, dtype=dtype, order="F" if fortran else "C")
    mapped = np.memmap(handle, dtype=dtype, mode="c", offset=offset, shape=shape, order="F" if fortran else "C")
    return mapped.view(np.ndarray)  # still backed by the map; not an np.memmap to callers


def session_hash(session: str | None) -> str:
    """A short one-way hash of a session id (what logs and tickets store instead of the id)."""
    return hashlib.sha256((session or "").encode()).hexdigest()[:16]


def source_digest(paths) -> str:
    """A digest of the code in ``paths``: what the cube cache keeps beside a cube that this code
    made (a figure, the summary rows) carries it in its key, so code that changed is not read back."""
    return hashlib.sha256(b"".join(Path(path).read_bytes() for path in sorted(map(str, paths)))).hexdigest()[:12]


def cube_group(key: str) -> str:
    """The cube a cache entry belongs to: ``processed-X/display/600x500`` → ``processed-X``."""
    return key.split("/", 1)[0]


class CubeCache:
    """Cubes on disk with pinning, LRU eviction and session-bound tickets.

    Parameters
    ----------
    directory : Path
        Cache folder (shared by every process serving the app).
    size_limit : int
        Bytes; :meth:`evict` keeps the cache under it (pinned cubes excepted).
    pin_seconds : float
        How long a viewed cube stays protected from eviction.
    ticket_seconds : float
        How long a page's ticket stays redeemable.
    """

    def __init__(self, directory: Path, size_limit: int, pin_seconds: float = 1800.0, ticket_seconds: float = 86400.0):
        import diskcache

        Path(directory).mkdir(parents=True, exist_ok=True)
        self.disk = diskcache.Cache(
            str(directory), size_limit=size_limit, eviction_policy="least-recently-used", cull_limit=0,
        )
        self.size_limit = size_limit
        self.pin_seconds = pin_seconds
        self.ticket_seconds = ticket_seconds

    def close(self) -> None:
        """Close this process's connections to the cache's database (the cache stays on disk)."""
        self.disk.close()

    # ------------------------------------------------------------ mapping
    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key`` (a cached cube comes back memory-mapped), or ``default``."""
        try:
            value = self.disk.get(key, default)
            if isinstance(value, StoredCube):
                value = self._open_cube(value)
        except _UNREADABLE as exc:
            self._forget_damaged(key, exc)
            return default
        if value is None:
            return default
        if value is not default and isinstance(key, str) and not key.startswith(_BOOKKEEPING):
            self._used(key)
        return value

    def set(self, key: str, value: Any) -> None:
        """Store ``value``; a :class:`~stamp_engine.cube.Cube` is stored as memory-mappable arrays."""
        if isinstance(value, Cube):
            value = self._store_cube(key, value)
        self.disk.set(key, value)
        if isinstance(key, str) and not key.startswith(_BOOKKEEPING):
            self._used(key)
            self.disk.delete(_DROPPED + cube_group(key))

    def _store_cube(self, key: str, cube: Cube) -> StoredCube:
        """Write the cube's large arrays as ``.npy`` file entries; the manifest to store under ``key``."""
        inline: dict[str, Any] = {}
        large: list[tuple[str, np.ndarray]] = []
        for item in dataclasses.fields(cube):
            if not item.init:
                continue
            value = getattr(cube, item.name)
            if isinstance(value, np.ndarray) and not value.dtype.hasobject and value.nbytes >= ARRAY_FILE_MIN_BYTES:
                large.append((item.name, value))
            else:
                inline[item.name] = value

        def write(named: tuple[str, np.ndarray]) -> tuple[str, str]:
            array_key = f"{key}{_ARRAY}{named[0]}"
            self.disk.set(array_key, _NpyStream(np.ascontiguousarray(named[1])), read=True)
            return named[0], array_key

        # Flux and error written side by side: the kernel's work of a new file's pages is most of
        # a write, and two threads halved it (2 × 163 MB: 0.4–1.0 s against 1.0–3.0 s one after
        # the other, on the project's 2-core VM).  Arrays first, manifest last: a reader never
        # finds a manifest without its arrays.
        written = map_pieces(write, large) if thread_count() > 1 else [write(named) for named in large]
        return StoredCube(type(cube), inline, dict(written))

    def _open_cube(self, stored: StoredCube) -> Cube | None:
        """The cube of a manifest with its arrays memory-mapped; None when an array entry is gone."""
        fields = dict(stored.fields)
        for name, array_key in stored.arrays.items():
            handle = self.disk.get(array_key, read=True)
            if handle is None:  # evicted (or deleted) after the manifest was read
                return None
            with handle:
                fields[name] = _map_npy(handle)
        return stored.cube_type(**fields)

    def _forget_damaged(self, key: str, exc: BaseException) -> None:
        log.warning("cube cache entry %s is unreadable (%s: %s); dropped, it will be made again",
                    key, type(exc).__name__, exc)
        self.disk.delete(key)
        prefix = f"{key}{_ARRAY}"
        for other in list(self.disk):
            if isinstance(other, str) and other.startswith(prefix):
                self.disk.delete(other)

    def _used(self, key: str) -> None:
        self.disk.set(_USED + cube_group(key), time.time())

    def __contains__(self, key: str) -> bool:
        return key in self.disk

    def volume(self) -> int:
        """Bytes on disk (entries and the index)."""
        return self.disk.volume()

    # ------------------------------------------------------------- pinning
    def pin(self, key: str) -> None:
        """Protect the cube of ``key`` from eviction for ``pin_seconds`` (renewed by each call)."""
        self.disk.set(_PIN + cube_group(key), time.time(), expire=self.pin_seconds)

    def pinned(self, key: str) -> bool:
        return self.disk.get(_PIN + cube_group(key)) is not None

    def evict(self, protect: str | None = None) -> list[str]:
        """Remove whole cubes until the cache is under its size limit.

        Unpinned cubes go first, least recently used first; then pinned ones, oldest
        pin first (their pages are told, see :meth:`why_gone`).  The cube of
        ``protect`` (the one a job has just made) goes last of all.

        Returns
        -------
        list of str
            The keys removed.
        """
        self.disk.expire()
        if self.disk.volume() <= self.size_limit:
            return []
        members: dict[str, list[str]] = {}
        for key in self.disk:  # a few entries per cube: listing them all is cheap
            if isinstance(key, str) and not key.startswith(_BOOKKEEPING):
                members.setdefault(cube_group(key), []).append(key)
        now = time.time()
        protected = cube_group(protect) if protect else None

        def rank(group: str) -> tuple[int, int, float]:
            pinned_at = self.disk.get(_PIN + group)
            last_use = self.disk.get(_USED + group, 0.0)
            # unpinned by last use, then pinned by pin time, the protected cube last
            return (group == protected, pinned_at is not None, pinned_at if pinned_at is not None else last_use)

        removed: list[str] = []
        for group in sorted(members, key=rank):
            if self.disk.volume() <= self.size_limit:
                break
            if self.disk.get(_PIN + group) is not None:
                self.disk.set(_DROPPED + group, now, expire=self.ticket_seconds)
                log.warning("cube cache at its %d-byte limit: dropping %s, which a page viewed", self.size_limit, group)
            for key in members[group]:
                if self.disk.delete(key):
                    removed.append(key)
            self.disk.delete(_PIN + group)
            self.disk.delete(_USED + group)
        return removed

    def why_gone(self, key: str) -> str | None:
        """Why the cube of ``key`` is no longer here, when it was dropped for space; else None."""
        return DROPPED_FOR_SPACE if self.disk.get(_DROPPED + cube_group(key)) is not None else None

    # ------------------------------------------------------------- tickets
    def issue(self, key: str, session: str | None) -> str:
        """A new random ticket for ``key``, redeemable only with ``session``; also pins the cube."""
        ticket = secrets.token_hex(16)
        self.disk.set(_TICKET + ticket, {"session": session_hash(session), "key": key}, expire=self.ticket_seconds)
        self.pin(key)
        return ticket

    def redeem(self, ticket: Any, session: Any) -> str | None:
        """The cache key behind ``ticket`` if it was issued to ``session``, else None; renews the cube's pin."""
        if not (isinstance(ticket, str) and _TOKEN.match(ticket) and isinstance(session, str) and session):
            return None
        entry = self.disk.get(_TICKET + ticket)
        if not isinstance(entry, dict) or not hmac.compare_digest(entry.get("session", ""), session_hash(session)):
            return None
        self.pin(entry["key"])
        return entry["key"]

    # -------------------------------------------------------------- health
    def check(self) -> None:
        """Write, read and delete a probe entry; raises when the cache folder is unusable."""
        probe = "health-" + secrets.token_hex(4)
        value = secrets.token_hex(4)
        self.disk.set(probe, value, expire=60)
        try:
            if self.disk.get(probe) != value:
                raise OSError("the cube cache did not return what was written")
        finally:
            self.disk.delete(probe)
