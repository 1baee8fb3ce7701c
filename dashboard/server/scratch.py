"""Scratch folders of jobs under ``<cache>/scratch``: where the engine expands archives and builds exports.

Each job gets a fresh folder ``<cache>/scratch/<host>-<pid>/<job>/``, handed to the
engine as its ``workdir`` (nothing rewrites the process-wide ``tempfile.tempdir``, so
threads of one web worker never share or steal a folder).  A job that ends, however
it ends, removes its folder (and its process's folder once no other job of the
process uses it); a killed process leaves its folder behind, which the next job's
:meth:`ScratchSpace.sweep` removes once the process is gone from this host (or older
than ``STAMP_JOB_TIMEOUT_S``).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .folders import FolderStore
from .gate import stale_process


class ScratchSpace:
    """Per-process, per-job scratch folders under ``root`` (``<cache>/scratch``).

    Parameters
    ----------
    root : Path
    timeout_s : float
        A process folder older than this is stale even if its process still runs.
    """

    # A process folder is made and removed by the jobs of that process: one lock per process.
    _lock = threading.Lock()

    def __init__(self, root: Path, timeout_s: float):
        self.root = Path(root)
        self.timeout_s = timeout_s
        self.store = FolderStore(self.root, stale_owner=self._stale)

    def own_folder(self) -> Path:
        return self.folder_of(os.getpid())

    def folder_of(self, pid: int) -> Path:
        return self.root / f"{socket.gethostname()}-{pid}"

    def remove(self, pid: int) -> None:
        """Remove the scratch folder of process ``pid`` of this host (a job process that has ended)."""
        shutil.rmtree(self.folder_of(pid), ignore_errors=True)

    def _stale(self, folder: Path, now: float) -> bool:
        host, _, pid = folder.name.rpartition("-")
        if not pid.isdigit() or folder == self.own_folder():
            return False
        return stale_process(host, int(pid), folder.stat().st_mtime, self.timeout_s, now)

    def sweep(self) -> list[Path]:
        """Remove scratch folders of dead processes on this host (or older than the job timeout)."""
        return self.store.sweep()

    @contextmanager
    def job(self, prefix: str = "stamp-job-") -> Iterator[Path]:
        """A fresh folder (named ``<prefix><random>``) for one job's temporary files, removed when the job ends."""
        own = self.own_folder()
        with self._lock:
            own.mkdir(parents=True, exist_ok=True, mode=0o700)
            folder = Path(tempfile.mkdtemp(prefix=prefix, dir=own))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            with self._lock:
                try:
                    own.rmdir()  # the last job of this process
                except OSError:
                    pass  # another job of this process still works in it
