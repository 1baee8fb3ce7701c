"""The server data folder (``STAMP_DATA_DIR``): which files users may pick, and nothing outside it."""

from __future__ import annotations

import os
from pathlib import Path

from stamp_engine.io.containers import ACCEPTED_SUFFIXES


class UnsafePath(ValueError):
    """A requested path lies outside the server data folder (or does not exist there)."""


def safe_data_path(data_dir: Path | None, relative: str) -> Path:
    """The file ``relative`` inside the server data folder, refusing anything outside it.

    Symbolic links are followed before the check, so a link pointing out of the
    folder is refused too.

    Raises
    ------
    UnsafePath
        When there is no data folder, the path escapes it, or it is not a file.
    """
    if data_dir is None:
        raise UnsafePath("this server has no data folder")
    root = data_dir.resolve()
    if not relative or "\x00" in relative or Path(relative).is_absolute():
        raise UnsafePath(f"{relative!r} is not a file in the data folder")
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        raise UnsafePath(f"{relative!r} is not a file in the data folder")
    return candidate


#: Extensions the server file picker lists: what the engine reads (one list, in the engine).
DATA_EXTENSIONS = ACCEPTED_SUFFIXES


def list_data_files(data_dir: Path | None, limit: int = 2000) -> list[str]:
    """Relative paths of the usable files under the data folder, sorted, at most ``limit``.

    Files whose resolved location is outside the folder (links out of it) are left out.
    """
    if data_dir is None:
        return []
    root = data_dir.resolve()
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or not name.lower().endswith(DATA_EXTENSIONS):
                continue
            path = Path(dirpath) / name
            if path.resolve().is_relative_to(root):
                found.append(path.relative_to(root).as_posix())
                if len(found) >= limit:
                    return found
    return found
