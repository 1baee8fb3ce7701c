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
access time).
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
        value = self.disk.get(key, default)
        if value is not default and isinstance(key, str) and not key.startswith(_BOOKKEEPING):
            self._used(key)
        return value

    def set(self, key: str, value: Any) -> None:
        self.disk.set(key, value)
        if isinstance(key, str) and not key.startswith(_BOOKKEEPING):
            self._used(key)
            self.disk.delete(_DROPPED + cube_group(key))

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
