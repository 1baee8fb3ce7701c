"""Waiting for a file the browser downloads into a folder."""

from __future__ import annotations

import time
from pathlib import Path


def wait_for_file(folder: Path, pattern: str, timeout: float, context: str = "") -> Path:
    """The first complete (non-empty, not ``.crdownload``) file matching ``pattern`` in ``folder``.

    Raises
    ------
    AssertionError
        When none arrived within ``timeout`` seconds; names what the folder holds, then ``context``.
    """
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done = [p for p in folder.glob(pattern) if not p.name.endswith(".crdownload")]
        if done and done[0].stat().st_size > 0:
            return done[0]
        time.sleep(0.2)
    held = [p.name for p in folder.iterdir()] if folder.is_dir() else []
    raise AssertionError(f"no {pattern} arrived in {folder}: {held}{context}")
