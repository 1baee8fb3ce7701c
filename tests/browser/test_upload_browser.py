"""Large, chunked, resumable uploads through the real page in headless Chromium.

    python -m pytest tests/browser/test_upload_browser.py -q

The HTTP protocol itself (limits, sanitising, session binding) is tested without a
browser in tests/dashboard/server/test_upload_route.py.  Pages open on the heatmap tab so that no 3D
surface is built by software WebGL.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
from tests.helpers import pixels
import psutil
import pytest
import requests

from dashboard import ids
from dashboard.server.config import UPLOAD_CHUNK_BYTES, format_size
from dashboard.server.upload_route import SESSION_HEADER, oversize_message
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.x1dints import write_segments
from tests.browser.test_hostile_browser import open_on_heatmap, upload as choose_files

pytestmark = pytest.mark.browser

WAIT = 90  # seconds; a loaded 2-core machine is slow
#: The issue's size for a large upload: a 1 GB observation through the browser.
LARGE_BYTES = 2**30
#: Growth of the test process's resident memory (it runs the web server) allowed during the upload.
RSS_GROWTH_BOUND = 64 * 2**20

PROGRESS_JS = """
window.uploadSeen = [];
var note = function () {
  var bar = document.querySelector('#' + arguments[0] + ' .progress-bar');
  var text = document.getElementById(arguments[1]);
  window.uploadSeen.push([bar ? parseFloat(bar.getAttribute('aria-valuenow')) : null, text ? text.innerText : '']);
};
var box = document.getElementById(arguments[2]);
new MutationObserver(function () { note(); }).observe(box, {attributes: true, subtree: true, childList: true,
                                                          characterData: true});
""".replace("arguments[0]", "'" + ids.UPLOAD_PROGRESS + "'").replace("arguments[1]", "'" + ids.UPLOAD_PROGRESS_TEXT + "'")


def small_observation(directory: Path, n_integrations: int = 60) -> Path:
    """One valid x1dints segment (60 integrations × 40 wavelengths)."""
    obs = make_observation(kind="transit", n_integrations=n_integrations, wavelength=np.linspace(1.0, 4.0, 40), seed=3)
    return write_segments(directory, obs, n_segments=1)[0]


def padded_zip(path: Path, observation: Path, total_bytes: int) -> Path:
    """A ZIP of ``total_bytes``: the observation plus a stored (uncompressed) padding member.

    The engine reads the observation and ignores the padding, so the upload is as
    large as a real TSO while the job stays small.
    """
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.write(observation, f"MAST/{observation.name}")
        left = total_bytes - path.stat().st_size - observation.stat().st_size - 400
        block = bytes(range(256)) * (2**22 // 256)
        with archive.open("MAST/README_padding.bin", "w", force_zip64=True) as member:
            while left > 0:
                member.write(block[: min(len(block), left)])
                left -= len(block)
    return path


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(2**22):
            digest.update(block)
    return digest.hexdigest()


def stored_files(cache: Path) -> list[Path]:
    """Files of finished uploads (``uploads/<session>/<digest>/<name>``)."""
    return sorted(p for p in (cache / "uploads").glob("*/*/*") if p.is_file() and ".incoming" not in p.parts)


def wait_for_heatmap(duo) -> None:
    end = time.monotonic() + WAIT
    script = ("var gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');"
              "return gd && gd.data ? gd.data.map(function (t) { return t.type; }) : [];")
    while time.monotonic() < end:
        if "heatmap" in (duo.driver.execute_script(script, ids.HEATMAP) or []):
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the heatmap")


def bar_while_uploading(duo) -> tuple[float, float]:
    """(value the upload bar states, % of its width painted blue) once it is between 15 and 85 %."""
    end = time.monotonic() + WAIT
    script = ("var bar = document.querySelector('#' + arguments[0] + ' .progress-bar');"
              "return bar ? parseFloat(bar.getAttribute('aria-valuenow')) : null;")
    while time.monotonic() < end:
        before = duo.driver.execute_script(script, ids.UPLOAD_PROGRESS)
        if before is not None and 15 < before < 85:
            image = pixels.screenshot(duo.driver, duo.find_element(f"#{ids.UPLOAD_PROGRESS}"))
            after = duo.driver.execute_script(script, ids.UPLOAD_PROGRESS)
            row = image[image.shape[0] // 2: image.shape[0] // 2 + 1]
            blue = pixels.saturation(row)[0] > 0.5
            return (before + after) / 2, 100.0 * blue.mean()
        time.sleep(0.05)
    raise AssertionError("the upload bar never showed an intermediate value")


class RssSampler:
    """Peak resident memory of this process (the test's web server runs in it) while sampling."""

    def __init__(self, every_s: float = 0.02):
        self.process = psutil.Process()
        self.baseline = self.process.memory_info().rss
        self.peak = self.baseline
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.every_s)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


def test_a_1_gb_observation_uploads_with_progress_in_bounded_memory_into_a_view(dash_duo, make_app, tmp_path):
    source = padded_zip(tmp_path / "big_MAST_download.zip", small_observation(tmp_path / "obs"), LARGE_BYTES)
    assert source.stat().st_size >= LARGE_BYTES - 2**20
    expected = sha256(source)
    app, log = make_app(demo_path=None)
    open_on_heatmap(dash_duo, app)
    dash_duo.driver.execute_script(PROGRESS_JS.replace("arguments[2]", "'" + ids.UPLOAD_PROGRESS_BOX + "'"))
    with RssSampler() as rss:
        started = time.monotonic()
        choose_files(dash_duo, source)
        shown, filled = bar_while_uploading(dash_duo)
        dash_duo.wait_for_contains_text(f"#{ids.UPLOAD_MESSAGE}", f"Received {source.name}", timeout=WAIT)
        elapsed = time.monotonic() - started
    seen = dash_duo.driver.execute_script("return window.uploadSeen;")
    values = [v for v, _ in seen if v is not None]
    texts = [t for _, t in seen]
    throughput = source.stat().st_size / elapsed
    print(f"\n1 GB upload: {elapsed:.1f} s, {throughput / 2**20:.0f} MB/s, "
          f"server RSS growth {rss.growth / 2**20:.1f} MB (peak {rss.peak / 2**20:.0f} MB)")
    # The bar is painted as far as it says: its blue fill covers that share of its width.
    assert abs(filled - shown) < 8, (filled, shown)
    # The bar moved through intermediate values and said how much of how much had arrived.
    assert any(5 < v < 95 for v in values), values
    assert any(f"of {format_size(source.stat().st_size)}" in t and "MB/s" in t for t in texts), texts[-5:]
    # Chunks of at most UPLOAD_CHUNK_BYTES, one request each.
    assert log.count("/upload/") >= source.stat().st_size // UPLOAD_CHUNK_BYTES
    # Constant server memory: nothing close to the file's size was ever held.
    assert rss.growth < RSS_GROWTH_BOUND, f"RSS grew by {rss.growth / 2**20:.0f} MB during a 1 GB upload"
    (stored,) = stored_files(tmp_path / "cache")
    assert stored.name == source.name and sha256(stored) == expected
    source.unlink()  # 1 GB less in the temporary folder at once
    # …and the upload opens like any other data: processed, summarised, drawn.
    wait_for_heatmap(dash_duo)
    dash_duo.wait_for_contains_text(f"#{ids.SUMMARY}", "60", timeout=WAIT)
    assert dash_duo.find_elements(".stamp-problems") == [] or "could not be used" not in \
        dash_duo.find_element(".stamp-problems").text


def test_a_dropped_connection_resumes_where_the_server_stopped(dash_duo, make_app, tmp_path):
    observation = small_observation(tmp_path / "obs")
    source = padded_zip(tmp_path / "resumed_MAST.zip", observation, 5 * UPLOAD_CHUNK_BYTES + 12345)
    app, log = make_app(demo_path=None)
    chunks: list[tuple[int, str]] = []  # (offset, how it ended) of every chunk request
    drop_at = 2  # the third chunk is cut off halfway

    from flask import request

    @app.server.before_request
    def _drop_one_connection():
        if request.method != "PUT" or "/upload/" not in request.path:
            return None
        offset = int(request.args["offset"])
        if len(chunks) != drop_at:
            chunks.append((offset, "sent"))
            return None
        chunks.append((offset, "dropped"))
        environ = request.environ
        half = int(environ["CONTENT_LENGTH"]) // 2
        connection = environ["werkzeug.socket"]
        original = environ["wsgi.input"]

        class CutOff:
            """The body's first half, then the connection is gone (as when Wi-Fi drops)."""

            def __init__(self):
                self.left = half

            def read(self, n=-1):
                if self.left <= 0:
                    connection.shutdown(socket.SHUT_RDWR)
                    raise ConnectionResetError("connection dropped by the test")
                data = original.read(min(n if n >= 0 else self.left, self.left))
                self.left -= len(data)
                return data

        environ["wsgi.input"] = CutOff()
        return None

    open_on_heatmap(dash_duo, app)
    choose_files(dash_duo, source)
    dash_duo.wait_for_contains_text(f"#{ids.UPLOAD_MESSAGE}", f"Received {source.name}", timeout=WAIT)
    offsets = [offset for offset, _ in chunks]
    dropped = offsets[drop_at]
    # After the drop the page asked the server what it held and went on from there:
    # the next chunk starts halfway through the dropped one, not at its start, nor at 0.
    assert log.count("/upload/") > len(chunks)  # status requests besides the chunks
    resumed = offsets[drop_at + 1]
    assert dropped < resumed < dropped + UPLOAD_CHUNK_BYTES, offsets
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    (stored,) = stored_files(tmp_path / "cache")
    assert sha256(stored) == sha256(source)
    wait_for_heatmap(dash_duo)


def test_after_giving_up_choosing_the_same_files_again_resumes(dash_duo, make_app, tmp_path, monkeypatch):
    from flask import request

    from dashboard.features import data_in

    monkeypatch.setattr(data_in, "RETRY_DELAYS_MS", (200, 200))  # give up within a second
    source = padded_zip(tmp_path / "offline_MAST.zip", small_observation(tmp_path / "obs"), 4 * UPLOAD_CHUNK_BYTES)
    app, log = make_app(demo_path=None)
    server_down = {"after": 2, "chunks": []}

    @app.server.before_request
    def _server_goes_away():
        if "/upload/" not in request.path:
            return None
        if request.method == "PUT":
            server_down["chunks"].append(int(request.args["offset"]))
        if server_down["after"] is not None and len(server_down["chunks"]) > server_down["after"]:
            return "gateway down", 503  # every upload request fails until the "network" is back
        return None

    open_on_heatmap(dash_duo, app)
    choose_files(dash_duo, source)
    dash_duo.wait_for_contains_text(f"#{ids.UPLOAD_MESSAGE}", "Choose the same files again to resume", timeout=WAIT)
    message = dash_duo.find_element(f"#{ids.UPLOAD_MESSAGE}").text
    assert f"Upload of {source.name} stopped at 50 %" in message
    held = 2 * UPLOAD_CHUNK_BYTES
    begun = log.count("/upload/") - len(server_down["chunks"])
    server_down["after"] = None
    tried = len(server_down["chunks"])
    choose_files(dash_duo, source)
    dash_duo.wait_for_contains_text(f"#{ids.UPLOAD_MESSAGE}", f"Received {source.name}", timeout=WAIT)
    # The second choice went on from the bytes the server held: no chunk of the first half twice.
    assert server_down["chunks"][tried:] == [held, held + UPLOAD_CHUNK_BYTES]
    assert log.count("/upload/") - len(server_down["chunks"]) == begun + 1  # one status request, no new start
    (stored,) = stored_files(tmp_path / "cache")
    assert sha256(stored) == sha256(source)


def test_an_upload_over_the_limit_is_refused_before_reading_and_by_the_server(dash_duo, make_app, tmp_path):
    big = tmp_path / "too_big_x1dints.fits"
    big.write_bytes(np.random.default_rng(0).bytes(int(1.5 * 2**20)))
    app, log = make_app(demo_path=None, max_upload_mb=1)
    base = open_on_heatmap(dash_duo, app)
    # the page's first callbacks settle (the job message can arrive before the others)
    quiet_since, seen = time.monotonic(), len(log.paths)
    while time.monotonic() - quiet_since < 1.0:
        time.sleep(0.1)
        if len(log.paths) != seen:
            quiet_since, seen = time.monotonic(), len(log.paths)
    before = len(log.paths)
    choose_files(dash_duo, big)
    expected = oversize_message([big.name], [big.stat().st_size], 2**20)
    assert expected == "too_big_x1dints.fits is 1.5 MB; the limit is 1 MB"
    dash_duo.wait_for_contains_text(f"#{ids.UPLOAD_MESSAGE}", f"Upload refused: {expected}.", timeout=20)
    time.sleep(0.5)
    assert log.paths[before:] == []  # not one request: the file never left the browser
    # The browser words every refusal as the server does (one wording, two languages).
    cases = [(["x.zip"], [int(3.1 * 2**30)], 2 * 2**30), (list("abcde"), [2**30] * 5, 2**32),
             (["x.fits"], [2**20 + 1], 2**20), (["a", "b"], [700, 12 * 2**10], 2**10), (["ok.h5"], [10], 10)]
    in_browser = dash_duo.driver.execute_script(
        "return arguments[0].map(function (c) {"
        " return window.dash_clientside.stampUpload.oversizeMessage(c[0], c[1], c[2]); });", cases)
    assert in_browser == [oversize_message(*case) for case in cases]
    # The server refuses the same on its own: a forged start, and a forged chunk past a declared size
    # (sent outside the page, with a session this server issued: only the size checks are in question).
    from dashboard.server.config import Config
    from dashboard.server.sessions import issue_session

    forged_session = issue_session(Config(cache_dir=tmp_path / "cache"))
    start = requests.post(f"{base}/upload/", json={"files": [{"name": big.name, "size": big.stat().st_size}]},
                          headers={SESSION_HEADER: forged_session}, timeout=10)
    assert start.status_code == 413 and start.json()["error"] == expected
    small = requests.post(f"{base}/upload/", json={"files": [{"name": big.name, "size": 1000}]},
                          headers={SESSION_HEADER: forged_session}, timeout=10)
    assert small.status_code == 201
    chunk = requests.put(f"{base}/upload/{small.json()['upload']}/0?offset=0", data=big.read_bytes()[:5000],
                         headers={SESSION_HEADER: forged_session}, timeout=10)
    assert chunk.status_code == 413 and "past the file's declared size of 1000 bytes" in chunk.json()["error"]
    # nothing of the refused chunk was written
    assert [p.stat().st_size for p in (tmp_path / "cache" / "uploads").rglob("*.fits")] == [0]
