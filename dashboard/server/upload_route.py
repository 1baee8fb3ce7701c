"""Chunked, resumable uploads streamed to the session's folder on disk by Flask routes, never through a callback.

The browser (``assets/stamp_upload.js``) sends each file in slices of at most
:data:`~dashboard.server.config.UPLOAD_CHUNK_BYTES`; the server appends each slice to the
file as it arrives (1 MiB at a time), so its memory does not grow with the upload.
Every request carries the page's session id in the :data:`SESSION_HEADER` header
(a header, not a cookie: another site cannot make a browser send it, so no form on
another page can post into a session).  All routes live under ``<prefix>upload/``:

``POST upload/`` with JSON ``{"files": [{"name": …, "size": …}, …]}``
    Starts an upload (:func:`begin_upload`): the declared sizes are checked against
    ``STAMP_MAX_UPLOAD_MB`` and the free disk space before any byte is accepted.
    Answers ``{"upload": <id>, "names": [safe names], "sizes": […], "received": [0, …],
    "chunk_bytes": …}``.
``GET upload/<id>``
    What the server holds (:func:`upload_status`): the client asks this after a
    dropped connection and continues from ``received[i]`` of each file.
``PUT upload/<id>/<i>?offset=<n>`` with the bytes of file ``i`` from ``n``
    Appends one chunk (:func:`write_chunk`).  Refused before the body is read when it
    is larger than a chunk or would end past the file's declared size (413), or when
    ``n`` is not the number of bytes already held (409, with ``received``).

The upload id is random and exists only inside the folder of the session that
started it (``<cache>/uploads/<session>/.incoming/<id>/``): another page's id, a
forged one, or one sent without the page's session finds nothing and gets the same
404.  When every byte has arrived the page hands the id to a Dash callback, which
calls :func:`finish_upload`: the files are hashed and moved to
``<cache>/uploads/<session>/<digest>/``, exactly where the dataset descriptors of
:mod:`dashboard.server.datasets` look for them.  Incomplete uploads untouched for
:data:`dashboard.server.datasets.INCOMING_IDLE_S` are removed by :func:`dashboard.server.datasets.prune_uploads`.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import re
import secrets
import shutil
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Sequence

from werkzeug.exceptions import ClientDisconnected

from .config import UPLOAD_CHUNK_BYTES, Config, format_size
from .datasets import INCOMING, SESSION_PATTERN, UploadRejected, check_file_count, prune_uploads, safe_filename
from .sessions import NOT_ISSUED, is_issued
from .storage import StorageFull, check_room

#: Request header holding the page's session id.
SESSION_HEADER = "X-Stamp-Session"
#: Bytes moved from the request to the file per read: the only buffer an upload needs.
COPY_BYTES = 2**20
#: The route's endpoint names start with this.
ENDPOINT = "stamp_upload"

_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
_MANIFEST = "manifest.json"
_FILES = "files"


class UploadRefused(UploadRejected):
    """An upload request the server refuses, with the HTTP status to answer and what it holds.

    Attributes
    ----------
    status : int
        400 (malformed), 404 (no such upload in this session), 409 (wrong offset, or
        another request is writing that file), 413 (too large), 507 (disk full).
    received : int or None
        Bytes of the file held on the server, when the refusal concerns one file.
    """

    def __init__(self, message: str, status: int, received: int | None = None):
        super().__init__(message)
        self.status = status
        self.received = received


@dataclass(frozen=True)
class Incoming:
    """An upload still arriving: its folder and the files it declared."""

    upload_id: str
    folder: Path
    names: list[str]
    sizes: list[int]

    @property
    def paths(self) -> list[Path]:
        return [self.folder / _FILES / name for name in self.names]

    def received(self) -> list[int]:
        return [path.stat().st_size if path.is_file() else 0 for path in self.paths]

    def state(self) -> dict[str, Any]:
        """What the client needs to continue: ids, names, declared sizes, bytes held, chunk size."""
        return {"upload": self.upload_id, "names": self.names, "sizes": self.sizes, "received": self.received(),
                "chunk_bytes": UPLOAD_CHUNK_BYTES}


class RunningDigests:
    """SHA-256 of each file being uploaded, fed with its chunks as they are written.

    Finishing an upload then needs no second read of the files (1 GB is 2–3 s of hashing
    here).  A digest is kept only while every byte from the start of its file went through
    this process, in order: a chunk written by another worker process, before a restart,
    or by a write that failed midway leaves it unknown, and :func:`finish_upload` hashes
    that file from disk as before.  At most ``limit`` files are followed (the oldest
    dropped first), so abandoned uploads cost nothing lasting.
    """

    def __init__(self, limit: int = 512):
        self._limit = limit
        self._lock = threading.Lock()
        self._held: OrderedDict[tuple[str, int], tuple[int, Any]] = OrderedDict()

    def __getstate__(self) -> dict:
        # Services travel to job processes, which receive no chunks: they get an empty set.
        return {"limit": self._limit}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["limit"])

    def resume(self, upload_id: str, index: int, offset: int):
        """The running hash of the file's first ``offset`` bytes (taken out while a chunk is written), or None."""
        with self._lock:
            held = self._held.pop((upload_id, index), None)
        if offset == 0:
            return hashlib.sha256()
        return held[1] if held is not None and held[0] == offset else None

    def keep(self, upload_id: str, index: int, covered: int, running) -> None:
        """Put back the running hash of the file's first ``covered`` bytes."""
        with self._lock:
            self._held[(upload_id, index)] = (covered, running)
            while len(self._held) > self._limit:
                self._held.popitem(last=False)

    def digest(self, upload_id: str, index: int, size: int) -> bytes | None:
        """The file's SHA-256 when its ``size`` bytes were all hashed here, else None; forgotten either way."""
        with self._lock:
            held = self._held.pop((upload_id, index), None)
        if size == 0:  # an empty file gets no chunk
            return hashlib.sha256().digest()
        return held[1].digest() if held is not None and held[0] == size else None


def oversize_message(names: Sequence[str], sizes: Sequence[int], limit_bytes: int) -> str | None:
    """``"x.zip is 3.1 GB; the limit is 2 GB"`` when the files are over the limit, else None.

    ``assets/stamp_upload.js`` words its refusal (made before any byte is read) the same way.
    """
    total = sum(sizes)
    if total <= limit_bytes:
        return None
    if len(names) == 1:
        what = f"{names[0]} is"
    else:
        what = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "") + " together are"
    size, limit = format_size(total), format_size(limit_bytes)
    if size == limit:  # just over the limit: rounded, both would read the same
        size, limit = f"{total} bytes", f"{limit_bytes} bytes"
    return f"{what} {size}; the limit is {limit}"


def _check_session(session: Any) -> str:
    if not isinstance(session, str) or not SESSION_PATTERN.match(session):
        raise UploadRefused("the page's session has expired; reload the page", 400)
    return session


def _incoming_root(config: Config, session: str) -> Path:
    return config.uploads_dir / session / INCOMING


def begin_upload(config: Config, session: Any, files: Any) -> Incoming:
    """Start an upload of ``files`` (``[{"name": str, "size": int}, …]``) for ``session``.

    Names are reduced to plain base names (:func:`~dashboard.server.datasets.safe_filename`),
    two files of one name get ``-2``, ``-3``… suffixes.  Any other incomplete upload of
    the session is dropped (a page sends one set of files at a time).

    Raises
    ------
    UploadRefused
        400 for a malformed list, 413 when the files together exceed
        ``STAMP_MAX_UPLOAD_MB`` (message: size and limit), 507 when the disk lacks room.
    """
    session = _check_session(session)
    if not isinstance(files, list) or not files:
        raise UploadRefused("no file was chosen", 400)
    try:
        check_file_count(config, len(files))
    except UploadRejected as exc:
        raise UploadRefused(str(exc), 413) from None
    names, sizes, used = [], [], set()
    for entry in files:
        name, size = (entry.get("name"), entry.get("size")) if isinstance(entry, dict) else (None, None)
        if not isinstance(name, str) or isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise UploadRefused("each file needs a name and a size in bytes", 400)
        safe = safe_filename(name)
        stem, dot, ext = safe.partition(".")
        k = 1
        while safe in used:  # two files of the same name from different folders
            k += 1
            safe = f"{stem}-{k}{dot}{ext}"
        used.add(safe)
        names.append(safe)
        sizes.append(size)
    too_big = oversize_message([f.get("name") for f in files], sizes, config.max_upload_bytes)
    if too_big:
        raise UploadRefused(too_big, 413)
    prune_uploads(config)
    root = _incoming_root(config, session)
    shutil.rmtree(root, ignore_errors=True)
    try:
        check_room(config, session, sum(sizes))
    except StorageFull as exc:
        raise UploadRefused(str(exc), 507) from None
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    upload_id = secrets.token_hex(16)
    folder = root / upload_id
    (folder / _FILES).mkdir(parents=True, mode=0o700)
    for name in names:
        (folder / _FILES / name).touch(mode=0o600)
    (folder / _MANIFEST).write_text(json.dumps({"names": names, "sizes": sizes, "started": time.time()}))
    return Incoming(upload_id, folder, names, sizes)


def find_upload(config: Config, session: Any, upload_id: Any) -> Incoming:
    """The incomplete upload ``upload_id`` of ``session``.

    Raises
    ------
    UploadRefused
        404 when the id is malformed, belongs to another session, or is gone.
    """
    session = _check_session(session)
    if not isinstance(upload_id, str) or not _UPLOAD_ID.match(upload_id):
        raise UploadRefused("this upload is not on the server; choose the files again", 404)
    folder = _incoming_root(config, session) / upload_id
    try:
        manifest = json.loads((folder / _MANIFEST).read_text())
    except (OSError, ValueError):
        raise UploadRefused("this upload is not on the server; choose the files again", 404) from None
    return Incoming(upload_id, folder, list(manifest["names"]), [int(s) for s in manifest["sizes"]])


def upload_status(config: Config, session: Any, upload_id: Any) -> dict[str, Any]:
    """:meth:`Incoming.state` of one upload of ``session`` (what a resuming client asks for)."""
    return find_upload(config, session, upload_id).state()


def write_chunk(
    config: Config, session: Any, upload_id: Any, index: int, offset: Any, length: Any, body: BinaryIO,
    digests: RunningDigests | None = None,
) -> int:
    """Append ``length`` bytes read from ``body`` to file ``index`` of an upload, at ``offset``.

    Everything is checked before the first byte is read: the chunk size, that
    ``offset`` is exactly what the server holds, that the chunk ends within the
    file's declared size.  The body is copied :data:`COPY_BYTES` at a time; when the
    connection drops midway the bytes that arrived are kept (the client asks
    :func:`upload_status` and continues from there).  With ``digests``, the bytes also go
    into the file's running SHA-256 (:class:`RunningDigests`).

    Returns
    -------
    int
        Bytes of the file now held.

    Raises
    ------
    UploadRefused
        404 unknown upload or file, 411/400 no usable length or offset, 413 chunk too
        large or past the declared size, 409 wrong offset or file busy.
    """
    incoming = find_upload(config, session, upload_id)
    if not isinstance(index, int) or not 0 <= index < len(incoming.names):
        raise UploadRefused("this upload has no such file", 404)
    name, size, path = incoming.names[index], incoming.sizes[index], incoming.paths[index]
    if not isinstance(length, int) or length < 0:
        raise UploadRefused("a chunk must say its length (Content-Length)", 411)
    if length > UPLOAD_CHUNK_BYTES:
        raise UploadRefused(
            f"a chunk may hold at most {format_size(UPLOAD_CHUNK_BYTES)} ({UPLOAD_CHUNK_BYTES} bytes); "
            f"this one declares {length} bytes", 413
        )
    try:
        offset = int(offset)
    except (TypeError, ValueError):
        raise UploadRefused("a chunk must say where it starts (?offset=)", 400) from None
    if offset < 0 or offset + length > size:
        raise UploadRefused(
            f"{name}: a chunk ending at byte {offset + length} is past the file's declared size of {size} bytes",
            413, received=_size(path),
        )
    try:
        handle = open(path, "r+b")
    except FileNotFoundError:
        raise UploadRefused("this upload is not on the server; choose the files again", 404) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise UploadRefused(f"{name}: another request is writing this file", 409, received=_size(path)) from None
        held = handle.seek(0, 2)
        if offset != held:
            raise UploadRefused(f"{name}: the server holds {held} bytes, not {offset}", 409, received=held)
        remaining = length
        running = digests.resume(incoming.upload_id, index, offset) if digests is not None else None
        reading = True
        try:
            while remaining:
                reading = True
                block = body.read(min(COPY_BYTES, remaining))
                if not block:
                    break
                reading = False
                handle.write(block)
                if running is not None:
                    running.update(block)
                remaining -= len(block)
        except (OSError, ClientDisconnected) as exc:
            held = _flushed(handle)
            # A failed read leaves every byte written also hashed; after a failed write the file's
            # digest is made from disk at the end.
            if running is not None and reading:
                digests.keep(incoming.upload_id, index, held, running)
            raise UploadRefused(f"{name}: the connection dropped", 400, received=held) from exc
        held = _flushed(handle)
        if running is not None:
            digests.keep(incoming.upload_id, index, held, running)
        if remaining:
            raise UploadRefused(f"{name}: the chunk was cut short", 400, received=held)
        return held


def _flushed(handle) -> int:
    handle.flush()
    return handle.tell()


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def finish_upload(config: Config, session: Any, upload_id: Any, digests: RunningDigests | None = None) -> dict[str, Any]:
    """Check that every byte arrived, then move the files to the session's dataset folder.

    The folder is named by the hash of names and bytes, so the same files uploaded twice
    by a session are stored — and processed — once.  A file's SHA-256 comes from
    ``digests`` when all its bytes were hashed as they arrived, else from reading it.

    Returns
    -------
    dict
        The dataset descriptor ``{"kind": "upload", "session", "digest", "names"}``.

    Raises
    ------
    UploadRefused
        When the upload is unknown to this session or a file is incomplete.
    """
    incoming = find_upload(config, session, upload_id)
    for name, size, held in zip(incoming.names, incoming.sizes, incoming.received()):
        if held != size:
            raise UploadRefused(f"{name}: {held} of {size} bytes arrived; choose the files again to resume", 409,
                                received=held)
    file_digests = []
    for index, (name, size, path) in enumerate(zip(incoming.names, incoming.sizes, incoming.paths)):
        known = digests.digest(incoming.upload_id, index, size) if digests is not None else None
        file_digests.append((name, known if known is not None else file_sha256(path)))
    digest = hashlib.sha256()
    for name, file_digest in sorted(file_digests):
        digest.update(name.encode() + b"\0" + file_digest)
    key = digest.hexdigest()[:32]
    target = config.uploads_dir / session / key
    if not target.is_dir():
        try:
            (incoming.folder / _FILES).rename(target)
        except OSError:
            if not target.is_dir():  # not a twin request that finished the same files first
                raise
    shutil.rmtree(incoming.folder, ignore_errors=True)
    return {"kind": "upload", "session": session, "digest": key, "names": incoming.names}


def file_sha256(path: Path) -> bytes:
    """SHA-256 of a file read :data:`COPY_BYTES` at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(COPY_BYTES):
            digest.update(block)
    return digest.digest()


def register(server, services) -> None:
    """Add the ``<prefix>upload/…`` routes to the Flask ``server``."""
    from flask import jsonify, request

    config = services.config

    def answer(payload: dict, status: int = 200):
        response = jsonify(payload)
        response.status_code = status
        response.headers["Cache-Control"] = "no-store"
        return response

    def refused(exc: UploadRefused):
        payload = {"error": str(exc)}
        if exc.received is not None:
            payload["received"] = exc.received
        return answer(payload, exc.status)

    def issued_session() -> str:
        session = request.headers.get(SESSION_HEADER)
        if not is_issued(config, session):
            raise UploadRefused(NOT_ISSUED, 403)
        return session

    def begin():
        body = request.get_json(silent=True)
        try:
            incoming = begin_upload(config, issued_session(), body.get("files") if isinstance(body, dict) else None)
        except UploadRefused as exc:
            return refused(exc)
        return answer(incoming.state(), 201)

    def status(upload_id: str):
        try:
            return answer(upload_status(config, issued_session(), upload_id))
        except UploadRefused as exc:
            return refused(exc)

    def chunk(upload_id: str, index: int):
        try:
            held = write_chunk(config, issued_session(), upload_id, index,
                               request.args.get("offset"), request.content_length, request.stream,
                               services.upload_digests)
        except UploadRefused as exc:
            return refused(exc)
        return answer({"received": held})

    def nothing(rest: str = ""):
        return answer({"error": "not found"}, 404)

    base = f"{config.url_prefix}upload/"
    server.add_url_rule(base, f"{ENDPOINT}_begin", begin, methods=["POST"])
    server.add_url_rule(f"{base}<upload_id>", f"{ENDPOINT}_status", status, methods=["GET"])
    server.add_url_rule(f"{base}<upload_id>/<int:index>", f"{ENDPOINT}_chunk", chunk, methods=["PUT"])
    # Anything else under upload/ is a 404 too, not Dash's page (its catch-all answers every path).
    server.add_url_rule(f"{base}<path:rest>", f"{ENDPOINT}_other", nothing,
                        methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
