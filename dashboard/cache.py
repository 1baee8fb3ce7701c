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
(``cull_limit=0``) and :meth:`CubeCache.evict` removes least recently used entries
itself, skipping every cube a session viewed within ``pin_seconds`` (each view renews
the pin).  When only pinned cubes remain the cache may exceed its limit until pins
expire — a live view is never broken.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("stamp.cache")

_PIN = "pin-"
_TICKET = "ticket-"
#: Keys of small bookkeeping entries that eviction leaves alone.
_BOOKKEEPING = (_PIN, _TICKET, "jobs-", "health-")
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


def session_hash(session: str | None) -> str:
    """A short one-way hash of a session id (what logs and tickets store instead of the id)."""
    return hashlib.sha256((session or "").encode()).hexdigest()[:16]


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

    # ------------------------------------------------------------ mapping
    def get(self, key: str, default: Any = None) -> Any:
        return self.disk.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.disk.set(key, value)

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

    def evict(self) -> list[str]:
        """Remove least recently used unpinned entries until the cache is under its size limit.

        Returns
        -------
        list of str
            The keys removed.
        """
        self.disk.expire()
        if self.disk.volume() <= self.size_limit:
            return []
        # diskcache keeps access times (updated by every get under this policy) in its
        # SQLite index; it has no public way to list keys in that order.
        rows = self.disk._sql("SELECT key FROM Cache ORDER BY access_time").fetchall()
        # A cube's entries (full resolution, display copy, shape line) go together, ranked by
        # the most recent use of any of them.
        members: dict[str, list[str]] = {}
        last_use: dict[str, int] = {}
        for position, (key,) in enumerate(rows):
            if isinstance(key, str) and not key.startswith(_BOOKKEEPING):
                members.setdefault(cube_group(key), []).append(key)
                last_use[cube_group(key)] = position
        removed: list[str] = []
        for group in sorted(members, key=last_use.__getitem__):
            if self.pinned(group):
                continue
            for key in members[group]:
                if self.disk.delete(key):
                    removed.append(key)
            if self.disk.volume() <= self.size_limit:
                break
        if self.disk.volume() > self.size_limit:
            log.warning("cube cache over its %d-byte limit: every remaining cube is being viewed", self.size_limit)
        return removed

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
