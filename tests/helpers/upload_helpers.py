"""Put files into a session's upload folder through the real chunked protocol (no browser, no HTTP).

Server-side tests use :func:`upload_files` where a page would upload: the same
begin → chunks → finish steps as ``assets/stamp_upload.js``, so every test that
processes an "upload" exercises the code that real uploads go through.
:class:`CountingInput` is a request body that shows whether a refusal came before reading it.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

from dashboard.server.config import UPLOAD_CHUNK_BYTES, Config
from dashboard.server.upload_route import begin_upload, finish_upload, write_chunk


class CountingInput(io.RawIOBase):
    """A request body of ``size`` bytes that records how much of it the server read."""

    def __init__(self, size: int):
        self.size, self.read_bytes = size, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.size - self.read_bytes, 65536)
        buffer[:n] = b"x" * n
        self.read_bytes += n
        return n


def upload_files(config: Config, session: str, files: Sequence[Path | tuple[str, bytes]]) -> dict:
    """Upload ``files`` (paths, or (name, bytes) pairs) for ``session``; returns the dataset descriptor."""
    named = [(f.name, f.read_bytes()) if isinstance(f, Path) else f for f in files]
    incoming = begin_upload(config, session, [{"name": name, "size": len(data)} for name, data in named])
    for index, (_, data) in enumerate(named):
        for offset in range(0, len(data), UPLOAD_CHUNK_BYTES):
            chunk = data[offset:offset + UPLOAD_CHUNK_BYTES]
            write_chunk(config, session, incoming.upload_id, index, offset, len(chunk), io.BytesIO(chunk))
    return finish_upload(config, session, incoming.upload_id)
