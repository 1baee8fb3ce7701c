"""The chunked upload route over HTTP (Flask test client): limits, sanitising, session binding, resuming."""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import time

import pytest

from dashboard.app import create_app
from tests.helpers.dashboard_client import DashClient, flask_transport
from dashboard.server.config import UPLOAD_CHUNK_BYTES, Config, format_size
from dashboard.server.datasets import INCOMING_IDLE_S, prune_uploads
from dashboard.server.upload_route import SESSION_HEADER, oversize_message
from dashboard.server.sessions import issue_session
from tests.helpers.upload_helpers import CountingInput

#: Two page sessions, issued anew by each test's server (see the ``app`` fixture).
SESSION_A = SESSION_B = ""


class DroppingInput(io.RawIOBase):
    """A body that delivers ``data`` and then fails as a dropped connection does."""

    def __init__(self, data: bytes):
        self.data, self.position = data, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.position >= len(self.data):
            raise ConnectionResetError("connection dropped")
        n = min(len(buffer), len(self.data) - self.position)
        buffer[:n] = self.data[self.position:self.position + n]
        self.position += n
        return n


@pytest.fixture
def app(tmp_path):
    global SESSION_A, SESSION_B
    config = Config(cache_dir=tmp_path / "cache", demo_path=None, max_upload_mb=20)
    SESSION_A, SESSION_B = issue_session(config), issue_session(config)
    return create_app(config)


@pytest.fixture
def http(app):
    return app.server.test_client()


def begin(http, files, session=None):
    session = session or SESSION_A
    return http.post("/upload/", json={"files": files}, headers={SESSION_HEADER: session})


def put(http, upload_id, index, offset, data, session=None):
    session = session or SESSION_A
    return http.put(f"/upload/{upload_id}/{index}?offset={offset}", data=data,
                    headers={SESSION_HEADER: session}, content_type="application/octet-stream")


def raw_put(app, upload_id, offset, body, length, session=None):
    """A PUT whose body is any stream (to see how much of it the server reads)."""
    session = session or SESSION_A
    environ = {
        "REQUEST_METHOD": "PUT", "PATH_INFO": f"/upload/{upload_id}/0", "QUERY_STRING": f"offset={offset}",
        "SERVER_NAME": "localhost", "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": body,
        "wsgi.errors": io.StringIO(), "CONTENT_TYPE": "application/octet-stream", "CONTENT_LENGTH": str(length),
        "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_X_STAMP_SESSION": session,
    }
    statuses = []
    payload = b"".join(app.server.wsgi_app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    return int(statuses[0].split()[0]), json.loads(payload)


def incoming_files(app) -> list:
    return sorted((app.server.extensions["stamp_services"].config.uploads_dir).rglob("files/*"))


# ------------------------------------------------------------------ messages
def test_sizes_and_refusals_are_worded_with_size_and_limit():
    assert [format_size(n) for n in (5, 12 * 2**10, int(1.5 * 2**20), 200 * 2**20, 2**31, int(3.1 * 2**30))] == [
        "5 bytes", "12 KB", "1.5 MB", "200 MB", "2 GB", "3.1 GB"]
    assert oversize_message(["x.zip"], [int(3.1 * 2**30)], 2 * 2**30) == "x.zip is 3.1 GB; the limit is 2 GB"
    assert oversize_message(["x.zip"], [2 * 2**30], 2 * 2**30) is None  # at the limit is allowed
    assert oversize_message(["a", "b", "c", "d", "e"], [2**30] * 5, 2**32) == \
        "a, b, c and 2 more together are 5 GB; the limit is 4 GB"
    # just over: rounded sizes would read the same, so both are given in bytes
    assert oversize_message(["x.fits"], [2**20 + 1], 2**20) == "x.fits is 1048577 bytes; the limit is 1048576 bytes"


# ------------------------------------------------------- a whole upload, resumed
def test_upload_in_chunks_resumes_after_a_dropped_connection_and_opens_as_a_dataset(app, http):
    data = os.urandom(2 * UPLOAD_CHUNK_BYTES + 4321)
    started = begin(http, [{"name": "obs_x1dints.fits", "size": len(data)}, {"name": "empty.fits", "size": 0}])
    assert started.status_code == 201 and started.headers["Cache-Control"] == "no-store"
    state = started.get_json()
    assert state["received"] == [0, 0] and state["chunk_bytes"] == UPLOAD_CHUNK_BYTES
    upload_id = state["upload"]
    assert put(http, upload_id, 0, 0, data[:UPLOAD_CHUNK_BYTES]).get_json() == {"received": UPLOAD_CHUNK_BYTES}
    # The connection drops 1000 bytes into the second chunk: those bytes are kept.
    status, answer = raw_put(app, upload_id, UPLOAD_CHUNK_BYTES,
                             DroppingInput(data[UPLOAD_CHUNK_BYTES:UPLOAD_CHUNK_BYTES + 1000]), UPLOAD_CHUNK_BYTES)
    assert status == 400 and answer["received"] == UPLOAD_CHUNK_BYTES + 1000
    # The client asks what the server holds and continues from there.
    held = http.get(f"/upload/{upload_id}", headers={SESSION_HEADER: SESSION_A}).get_json()["received"][0]
    assert held == UPLOAD_CHUNK_BYTES + 1000
    # Resending from an older offset is refused with what the server holds (nothing appended twice).
    stale = put(http, upload_id, 0, UPLOAD_CHUNK_BYTES, data[UPLOAD_CHUNK_BYTES:2 * UPLOAD_CHUNK_BYTES])
    assert stale.status_code == 409 and stale.get_json()["received"] == held
    while held < len(data):
        held = put(http, upload_id, 0, held, data[held:held + UPLOAD_CHUNK_BYTES]).get_json()["received"]
    client = DashClient(flask_transport(http))
    outputs = client.call("upload-progress-box.hidden", {"upload-done.data": {"upload": upload_id},
                                                         "session-id.data": SESSION_A})
    descriptor = outputs["dataset"]["data"]
    assert descriptor["names"] == ["obs_x1dints.fits", "empty.fits"] and descriptor["session"] == SESSION_A
    assert "Received 2 files" in json.dumps(outputs["upload-message"])
    folder = app.server.extensions["stamp_services"].config.uploads_dir / SESSION_A / descriptor["digest"]
    assert hashlib.sha256((folder / "obs_x1dints.fits").read_bytes()).digest() == hashlib.sha256(data).digest()
    assert (folder / "empty.fits").read_bytes() == b""
    # the finished upload is no longer resumable or writable
    assert http.get(f"/upload/{upload_id}", headers={SESSION_HEADER: SESSION_A}).status_code == 404


# -------------------------------------------------------------------- limits
def test_the_declared_total_is_checked_before_any_byte(app, http):
    over = begin(http, [{"name": "x.zip", "size": 15 * 2**20}, {"name": "y.zip", "size": 6 * 2**20}])
    assert over.status_code == 413
    assert over.get_json()["error"] == "x.zip, y.zip together are 21 MB; the limit is 20 MB"
    one = begin(http, [{"name": "big.zip", "size": 21 * 2**20}])
    assert one.status_code == 413 and one.get_json()["error"] == "big.zip is 21 MB; the limit is 20 MB"
    assert begin(http, [{"name": f"{i}.fits", "size": 1} for i in range(1001)]).status_code == 413
    for malformed in ([], [{"name": "a.fits"}], [{"name": "a.fits", "size": -1}], [{"name": 3, "size": 1}],
                      [{"name": "a.fits", "size": True}], "a.fits", [["a.fits", 1]]):
        response = begin(http, malformed)
        assert response.status_code == 400 and response.get_json()["error"], malformed
    assert http.post("/upload/", data=b"not json", headers={SESSION_HEADER: SESSION_A}).status_code == 400
    assert incoming_files(app) == []  # nothing refused left a file behind


def test_a_chunk_is_refused_before_its_body_is_read(app, http):
    upload_id = begin(http, [{"name": "a.fits", "size": 2 * UPLOAD_CHUNK_BYTES}]).get_json()["upload"]
    # larger than a chunk
    body = CountingInput(UPLOAD_CHUNK_BYTES + 1)
    status, answer = raw_put(app, upload_id, 0, body, body.size)
    assert status == 413
    assert answer["error"] == f"a chunk may hold at most 8 MB (8388608 bytes); this one declares {body.size} bytes"
    assert body.read_bytes == 0
    # past the file's declared size
    small = begin(http, [{"name": "b.fits", "size": 1000}]).get_json()["upload"]
    body = CountingInput(1001)
    status, answer = raw_put(app, small, 0, body, body.size)
    assert status == 413 and "past the file's declared size of 1000 bytes" in answer["error"]
    assert body.read_bytes == 0
    # not at the end of what the server holds
    body = CountingInput(10)
    status, answer = raw_put(app, small, 500, body, body.size)
    assert status == 409 and answer["received"] == 0 and body.read_bytes == 0
    # no offset, no such file
    assert http.put(f"/upload/{small}/0", data=b"x", headers={SESSION_HEADER: SESSION_A}).status_code == 400
    assert put(http, small, 1, 0, b"x").status_code == 404
    # larger than any request may be: Flask refuses it from its Content-Length
    body = CountingInput(50 * 2**20)
    status, answer = raw_put(app, small, 0, body, body.size)
    assert status == 413 and body.read_bytes == 0
    assert [p.stat().st_size for p in incoming_files(app)] == [0]


def test_a_file_being_written_is_not_written_twice_at_once(app, http):
    upload_id = begin(http, [{"name": "a.fits", "size": 100}]).get_json()["upload"]
    (path,) = incoming_files(app)
    with open(path, "r+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # another request is writing this file
        busy = put(http, upload_id, 0, 0, b"x" * 10)
    assert busy.status_code == 409 and "another request is writing" in busy.get_json()["error"]
    assert put(http, upload_id, 0, 0, b"x" * 10).get_json() == {"received": 10}


# ---------------------------------------------------------------- sanitising
def test_file_names_are_sanitised_and_nothing_lands_outside_the_session_folder(app, http, tmp_path):
    names = ["../../../etc/passwd", "C:\\Users\\me\\x1d ints.fits", ".bashrc", "a.fits", "dir/a.fits", "", "é€.h5"]
    started = begin(http, [{"name": n, "size": 1} for n in names]).get_json()
    assert started["names"] == ["passwd", "x1d_ints.fits", "bashrc", "a.fits", "a-2.fits", "upload", "__.h5"]
    for index in range(len(names)):
        assert put(http, started["upload"], index, 0, b"z").status_code == 200
    session_folder = tmp_path / "cache" / "uploads" / SESSION_A
    written = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.name != "manifest.json"
               and "uploads" in p.parts]
    assert len(written) == len(names) and all(p.is_relative_to(session_folder) for p in written)
    # malformed ids and sessions never reach the file system
    for bad_id in ("..", "../" + started["upload"], started["upload"].upper(), "0" * 31):
        assert http.get(f"/upload/{bad_id}", headers={SESSION_HEADER: SESSION_A}).status_code == 404
    for bad_session in (None, "", "../../x", "A1" * 16, "zz" * 16, "ab" * 32):  # the last: well formed, not issued
        headers = {SESSION_HEADER: bad_session} if bad_session is not None else {}
        response = http.post("/upload/", json={"files": [{"name": "a.fits", "size": 1}]}, headers=headers)
        assert response.status_code == 403 and "session" in response.get_json()["error"]
    assert http.delete(f"/upload/{started['upload']}").status_code == 404  # not Dash's page either


# --------------------------------------------------------------- isolation
def test_another_session_cannot_see_write_or_finish_an_upload(app, http):
    upload_id = begin(http, [{"name": "mine.fits", "size": 4}]).get_json()["upload"]
    assert put(http, upload_id, 0, 0, b"my").status_code == 200
    assert http.get(f"/upload/{upload_id}", headers={SESSION_HEADER: SESSION_B}).status_code == 404
    assert http.get(f"/upload/{upload_id}").status_code == 403  # no session at all
    theirs = put(http, upload_id, 0, 2, b"xx", session=SESSION_B)
    assert theirs.status_code == 404
    client = DashClient(flask_transport(http))
    stolen = client.call("upload-progress-box.hidden", {"upload-done.data": {"upload": upload_id},
                                                        "session-id.data": SESSION_B})
    assert "dataset" not in stolen and "not on the server" in json.dumps(stolen["upload-message"])
    # the owner's upload is untouched and still completes
    assert put(http, upload_id, 0, 2, b"ts").get_json() == {"received": 4}
    mine = client.call("upload-progress-box.hidden", {"upload-done.data": {"upload": upload_id},
                                                      "session-id.data": SESSION_A})
    assert mine["dataset"]["data"]["names"] == ["mine.fits"]
    assert (app.server.extensions["stamp_services"].config.uploads_dir / SESSION_A /
            mine["dataset"]["data"]["digest"] / "mine.fits").read_bytes() == b"myts"


def test_a_new_upload_replaces_the_sessions_unfinished_one_and_idle_ones_are_pruned(app, http):
    first = begin(http, [{"name": "a.fits", "size": 10}]).get_json()["upload"]
    other = begin(http, [{"name": "b.fits", "size": 10}], session=SESSION_B).get_json()["upload"]
    second = begin(http, [{"name": "c.fits", "size": 10}]).get_json()["upload"]
    assert http.get(f"/upload/{first}", headers={SESSION_HEADER: SESSION_A}).status_code == 404
    assert http.get(f"/upload/{second}", headers={SESSION_HEADER: SESSION_A}).status_code == 200
    assert http.get(f"/upload/{other}", headers={SESSION_HEADER: SESSION_B}).status_code == 200
    config = app.server.extensions["stamp_services"].config
    assert prune_uploads(config) == 0
    later = time.time() + INCOMING_IDLE_S + 60
    assert prune_uploads(config, now=later) == 2
    assert http.get(f"/upload/{second}", headers={SESSION_HEADER: SESSION_A}).status_code == 404


def test_a_full_disk_is_said_before_any_byte(app, http, monkeypatch):
    import shutil

    usage = shutil.disk_usage("/")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=5 * 2**20))
    refused = begin(http, [{"name": "a.zip", "size": 10 * 2**20}])
    assert refused.status_code == 507
    assert refused.get_json()["error"].startswith("the server's disk is almost full (5 MB free, and it keeps 512 MB free")


# ------------------------------------------------------ digests made as chunks arrive
def _expected_folder(names_and_data) -> str:
    digest = hashlib.sha256()
    for name, data in sorted(names_and_data):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()[:32]


def _finish(http, upload_id):
    client = DashClient(flask_transport(http))
    return client.call("upload-progress-box.hidden", {"upload-done.data": {"upload": upload_id},
                                                      "session-id.data": SESSION_A})["dataset"]["data"]


def test_finishing_reads_no_file_again_when_every_chunk_was_hashed_as_it_arrived(app, http, monkeypatch):
    from dashboard.server import upload_route

    files = [("b_x1dints.fits", os.urandom(2 * UPLOAD_CHUNK_BYTES + 77)), ("a_x1dints.fits", os.urandom(5000)),
             ("empty.fits", b"")]
    upload_id = begin(http, [{"name": n, "size": len(d)} for n, d in files]).get_json()["upload"]
    big = files[0][1]
    put(http, upload_id, 0, 0, big[:UPLOAD_CHUNK_BYTES])
    # a dropped connection midway through a chunk: the bytes that arrived are hashed and kept
    status, answer = raw_put(app, upload_id, UPLOAD_CHUNK_BYTES,
                             DroppingInput(big[UPLOAD_CHUNK_BYTES:UPLOAD_CHUNK_BYTES + 1000]), UPLOAD_CHUNK_BYTES)
    assert status == 400 and answer["received"] == UPLOAD_CHUNK_BYTES + 1000
    held = answer["received"]
    while held < len(big):
        held = put(http, upload_id, 0, held, big[held:held + UPLOAD_CHUNK_BYTES]).get_json()["received"]
    put(http, upload_id, 1, 0, files[1][1])

    def no_second_read(path):
        raise AssertionError(f"{path} was read again to hash it")

    monkeypatch.setattr(upload_route, "file_sha256", no_second_read)
    descriptor = _finish(http, upload_id)
    assert descriptor["digest"] == _expected_folder(files)


def test_a_chunk_this_process_did_not_see_makes_that_file_hashed_from_disk_and_the_digest_is_the_same(app, http,
                                                                                                       monkeypatch):
    from dashboard.server import upload_route

    services = app.server.extensions["stamp_services"]
    files = [("seg1_x1dints.fits", os.urandom(UPLOAD_CHUNK_BYTES + 10)), ("seg2_x1dints.fits", os.urandom(3000))]
    upload_id = begin(http, [{"name": n, "size": len(d)} for n, d in files]).get_json()["upload"]
    # the first chunk of seg1 went through another worker process (no running digest here)
    upload_route.write_chunk(services.config, SESSION_A, upload_id, 0, 0, UPLOAD_CHUNK_BYTES,
                             io.BytesIO(files[0][1][:UPLOAD_CHUNK_BYTES]))
    put(http, upload_id, 0, UPLOAD_CHUNK_BYTES, files[0][1][UPLOAD_CHUNK_BYTES:])
    put(http, upload_id, 1, 0, files[1][1])
    read_again = []
    real = upload_route.file_sha256
    monkeypatch.setattr(upload_route, "file_sha256", lambda path: read_again.append(path.name) or real(path))
    descriptor = _finish(http, upload_id)
    assert read_again == ["seg1_x1dints.fits"]
    assert descriptor["digest"] == _expected_folder(files)


def test_the_running_digests_travel_to_a_job_process_empty():
    import pickle

    from dashboard.server.upload_route import RunningDigests

    digests = RunningDigests(limit=7)
    running = digests.resume("u1", 0, 0)
    running.update(b"abc")
    digests.keep("u1", 0, 3, running)
    copy = pickle.loads(pickle.dumps(digests))
    assert copy.digest("u1", 0, 3) is None and copy._limit == 7
    assert digests.digest("u1", 0, 3) == hashlib.sha256(b"abc").digest()
