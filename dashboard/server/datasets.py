"""Where the files of a dataset live on the server, and the key of their content.

The browser only holds a small *descriptor* of the dataset it shows:

* ``{"kind": "demo"}`` — the demo observation (``Config.demo_path``);
* ``{"kind": "upload", "session": <hex>, "digest": <hex>, "names": [...]}`` —
  files uploaded by one browser session (:mod:`dashboard.server.upload_route`), saved under
  ``<cache>/uploads/<session>/<digest>/``;
* ``{"kind": "server", "paths": [...]}`` — files picked from ``STAMP_DATA_DIR``,
  relative to it.

Every descriptor coming back from the browser is re-checked here: hex keys only,
no path outside the upload or data folder.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .config import Config
from .data_folder import UnsafePath, safe_data_path
from .folders import FolderStore, last_touched, older_than

_HEX = re.compile(r"^[0-9a-f]{8,64}$")
#: A page's session id as the upload folders accept it (hex only: it names a folder).
SESSION_PATTERN = _HEX
#: Folder (inside a session's upload folder) of uploads still arriving (see :mod:`dashboard.server.upload_route`).
INCOMING = ".incoming"
#: An incomplete upload untouched this long is removed (its page can no longer resume it).
INCOMING_IDLE_S = 3600.0


class UploadRejected(ValueError):
    """An upload cannot be accepted; the message says why in a user's words."""


@dataclass(frozen=True)
class Dataset:
    """Files of one dataset on the server.

    Attributes
    ----------
    paths : list of Path
        Files to hand to :func:`stamp_engine.load`.
    content_key : str
        Changes whenever the files' content may have changed.
    label : str
        What to call the dataset in the interface.
    """

    paths: list[Path]
    content_key: str
    label: str


def _file_stamp(path: Path) -> list:
    stat = path.stat()
    return [str(path), stat.st_size, stat.st_mtime_ns]


def _hash(parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def safe_filename(name: str) -> str:
    """A browser-supplied file name reduced to a plain base name (no folders, no odd characters)."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[^A-Za-z0-9._+-]", "_", base).lstrip(".")
    return base[:200] or "upload"


def check_file_count(config: Config, count: int) -> None:
    """Refuse more files in one upload or server pick than ``STAMP_MAX_UPLOAD_FILES`` (ZIPs have their own limit)."""
    if count > config.max_upload_files:
        raise UploadRejected(
            f"{count} files were sent; this server takes at most {config.max_upload_files} in one upload "
            "(STAMP_MAX_UPLOAD_FILES) — put them in a ZIP"
        )


def prune_uploads(config: Config, now: float | None = None) -> int:
    """Delete session upload folders untouched for ``upload_ttl_hours``, and incomplete
    uploads untouched for :data:`INCOMING_IDLE_S`; returns how many folders went."""
    return len(upload_folders(config).sweep(now))


def upload_folders(config: Config) -> FolderStore:
    """``uploads/<session>/``: a session's folder goes after ``STAMP_UPLOAD_TTL_HOURS`` untouched, an
    upload still arriving (``.incoming/<id>``) after :data:`INCOMING_IDLE_S` without a byte."""
    return FolderStore(
        config.uploads_dir, stale_owner=older_than(config.upload_ttl_hours * 3600),
        items=f"{INCOMING}/*", stale_item=older_than(INCOMING_IDLE_S, last_touched),
    )


def resolve(config: Config, descriptor: Mapping[str, Any] | None) -> Dataset:
    """The files behind a descriptor from the browser.

    Raises
    ------
    UnsafePath
        When the descriptor is malformed, points outside its folder, or its files are gone.
    """
    kind = (descriptor or {}).get("kind")
    if kind == "demo":
        if config.demo_path is None or not config.demo_path.is_file():
            raise UnsafePath("this server has no demo observation")
        return Dataset([config.demo_path], _hash(_file_stamp(config.demo_path)), f"Demo: {config.demo_path.name}")
    if kind == "upload":
        session, digest = str(descriptor.get("session", "")), str(descriptor.get("digest", ""))
        if not (_HEX.match(session) and _HEX.match(digest)):
            raise UnsafePath("the upload key is malformed")
        folder = config.uploads_dir / session / digest
        if not folder.is_dir():
            raise UnsafePath("the uploaded files have expired from the server; upload them again")
        paths = sorted(p for p in folder.iterdir() if p.is_file())
        names = ", ".join(p.name for p in paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        return Dataset(paths, "upload-" + digest, f"Upload: {names}")
    if kind == "server":
        relative = descriptor.get("paths") or []
        if not isinstance(relative, list) or not relative:
            raise UnsafePath("no file was picked")
        if len(relative) > config.max_upload_files:
            raise UnsafePath(f"{len(relative)} files were picked; at most {config.max_upload_files} may be "
                             "processed at once (STAMP_MAX_UPLOAD_FILES)")
        paths = [safe_data_path(config.data_dir, str(r)) for r in relative]
        names = ", ".join(str(r) for r in relative[:3]) + (f" and {len(relative) - 3} more" if len(relative) > 3 else "")
        return Dataset(paths, _hash([_file_stamp(p) for p in paths]), f"Server: {names}")
    raise UnsafePath("unknown kind of dataset")
