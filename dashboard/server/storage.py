"""Room on the cache disk: per-session and server-wide quotas for uploads and downloads, and free space.

Uploads (``<cache>/uploads/<session>/``) and built downloads
(``<cache>/downloads/<session hash>/``) are what users can make the server store;
:func:`check_room` is asked before either is written and refuses, with a message in
a user's words, when the page's session (``STAMP_SESSION_QUOTA_MB``) or all sessions
together (``STAMP_STORAGE_QUOTA_MB``) would go over their quota, or when the disk
would be left with less than ``STAMP_MIN_FREE_MB`` free.  ``/healthz`` reports a
disk below that minimum as unhealthy (:func:`disk_health`).  The cube cache has its
own limit (``STAMP_CACHE_SIZE_MB``, :mod:`dashboard.cache`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..cache import session_hash
from .config import Config

MB = 1024 * 1024


class StorageFull(RuntimeError):
    """Nothing more can be stored now; the message says why in a user's words."""


def folder_bytes(folder: Path) -> int:
    """Bytes of the regular files under ``folder`` (links not followed; 0 when it does not exist)."""
    total = 0
    stack = [Path(folder)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
                    except FileNotFoundError:
                        continue  # removed meanwhile
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
    return total


def session_bytes(config: Config, session: str | None) -> int:
    """What one page session stores: its uploads and its built downloads."""
    total = folder_bytes(config.downloads_dir / session_hash(session))
    if session:
        total += folder_bytes(config.uploads_dir / session)
    return total


def stored_bytes(config: Config) -> int:
    """What all sessions store (uploads and downloads)."""
    return folder_bytes(config.uploads_dir) + folder_bytes(config.downloads_dir)


def free_bytes(config: Config) -> int:
    """Free bytes on the disk of the cache folder."""
    config.cache_dir.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(config.cache_dir).free


def check_room(config: Config, session: str | None, incoming: int) -> None:
    """Refuse to store ``incoming`` more bytes for ``session`` when a quota or the disk's free space says no.

    Raises
    ------
    StorageFull
        Naming the quota (or the free space) and the numbers.
    """
    incoming = max(int(incoming), 0)
    free = free_bytes(config)
    if free - incoming < config.min_free_mb * MB:
        raise StorageFull(
            f"the server's disk is almost full ({free / MB:.0f} MB free, and it keeps {config.min_free_mb} MB "
            "free): try again later"
        )
    mine = session_bytes(config, session)
    if mine + incoming > config.session_quota_mb * MB:
        raise StorageFull(
            f"this page already stores {mine / MB:.1f} MB of uploads and downloads; with "
            f"{incoming / MB:.1f} MB more it would pass its quota of {config.session_quota_mb} MB "
            "(STAMP_SESSION_QUOTA_MB). Reload the page to start afresh"
        )
    everyone = stored_bytes(config)
    if everyone + incoming > config.storage_quota_mb * MB:
        raise StorageFull(
            f"the server's storage for uploads and downloads is full ({everyone / MB:.0f} of "
            f"{config.storage_quota_mb} MB, STAMP_STORAGE_QUOTA_MB): try again later"
        )


def disk_health(config: Config) -> str:
    """``"ok"``, or what is wrong with the cache disk's free space."""
    try:
        free = free_bytes(config)
    except OSError as exc:
        return f"unreachable: {type(exc).__name__}"
    if free < config.min_free_mb * MB:
        return f"low: {free / MB:.0f} MB free, below the {config.min_free_mb} MB minimum (STAMP_MIN_FREE_MB)"
    return "ok"
