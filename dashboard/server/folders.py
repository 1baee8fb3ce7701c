"""Folders the server keeps for a while under the cache folder, and the one sweeper that removes them.

Each store is ``<root>/<owner>/…``: an owner is a page session (uploads, built
downloads) or a process (job scratch).  A process that is killed (Cancel, a crashed
worker) cannot clean up after itself, and pages are closed without saying so; every
store is therefore swept by :meth:`FolderStore.sweep` when new work starts, with the
store's own rule of what is stale:

=====================================  ======================================================
store                                  stale
=====================================  ======================================================
``uploads/<session>/``                 the session folder untouched for ``STAMP_UPLOAD_TTL_HOURS``;
                                       an upload still arriving (``.incoming/<id>``) idle for
                                       :data:`dashboard.server.datasets.INCOMING_IDLE_S`
``downloads/<session hash>/<token>/``  the token folder older than ``STAMP_UPLOAD_TTL_HOURS``
                                       (a session folder left empty goes too)
``scratch/<host>-<pid>/``              its process is gone from this host, or it is older
                                       than ``STAMP_JOB_TIMEOUT_S``
=====================================  ======================================================
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

#: ``stale(folder, now) -> bool``: whether a folder may go.
Stale = Callable[[Path, float], bool]


def modified(folder: Path) -> float:
    """The folder's own modification time (entries added or removed)."""
    return folder.stat().st_mtime


def last_touched(folder: Path) -> float:
    """The newest modification time of the folder and everything in it (a file still being written counts)."""
    return max(p.stat().st_mtime for p in [folder, *folder.rglob("*")])


def older_than(seconds: float, touched: Callable[[Path], float] = modified) -> Stale:
    """The rule "untouched for more than ``seconds``", ``touched`` saying when a folder was last used."""
    return lambda folder, now: now - touched(folder) > seconds


@dataclass(frozen=True)
class FolderStore:
    """Owner folders under ``root``, and inside each the items ``items`` (a glob) swept one by one.

    Attributes
    ----------
    root : Path
    stale_owner : callable, optional
        ``stale(owner folder, now)``: the whole owner folder goes.
    items : str, optional
        Glob (relative to an owner folder) of the items swept on their own.
    stale_item : callable, optional
        ``stale(item folder, now)``.
    drop_empty_owners : bool
        Remove an owner folder whose items have all gone.
    """

    root: Path
    stale_owner: Stale | None = None
    items: str | None = None
    stale_item: Stale | None = None
    drop_empty_owners: bool = False

    def sweep(self, now: float | None = None) -> list[Path]:
        """Remove what is stale; returns the owner and item folders removed.

        Safe while other processes sweep or write the same store: a folder that
        vanishes meanwhile is skipped.
        """
        root = Path(self.root)
        if not root.is_dir():
            return []
        now = time.time() if now is None else now
        removed: list[Path] = []
        for owner in root.iterdir():
            try:
                if not owner.is_dir():
                    continue
                if self.stale_owner is not None and self.stale_owner(owner, now):
                    shutil.rmtree(owner, ignore_errors=True)
                    removed.append(owner)
                    continue
                if self.items is None or self.stale_item is None:
                    continue
                for item in owner.glob(self.items):
                    if self.stale_item(item, now):
                        shutil.rmtree(item, ignore_errors=True)
                        removed.append(item)
                if self.drop_empty_owners and not any(owner.iterdir()):
                    owner.rmdir()
            except OSError:
                continue  # another process swept it meanwhile, or a stray file
        return removed
