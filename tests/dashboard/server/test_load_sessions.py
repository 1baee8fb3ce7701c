"""Bounded load test on loopback: 8 sessions upload and process at once against a real server process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import psutil
import requests

from tests.helpers.dashboard_client import DashClient, http_transport
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.eureka import write_eureka_s3

from tests.helpers.paths import REPO

SESSIONS = 8
#: Memory of the server and its job processes together, at any moment (proportional set size:
#: a page shared by a job process and the child it forked counts once, not once per process).
RSS_BOUND_MB = 1500
TIME_BOUND_S = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rss_mb(pid: int) -> float:
    try:
        process = psutil.Process(pid)
        total = 0
        for member in [process, *process.children(recursive=True)]:
            try:
                total += member.memory_full_info().pss
            except psutil.NoSuchProcess:
                continue  # a job that just ended
        return total / 2**20
    except psutil.Error:
        return 0.0


def test_eight_concurrent_sessions_each_get_their_own_result(tmp_path):
    datasets = []
    for i in range(SESSIONS):
        n = 40 + 4 * i  # a different size per session, so results can be told apart
        obs = make_observation(kind="variability", n_integrations=n, wavelength=np.linspace(1.0, 4.0, 50), seed=i)
        path = tmp_path / f"session{i}_SpecData.h5"
        write_eureka_s3(path, obs)
        datasets.append((path, n))
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "STAMP_CACHE_DIR": str(tmp_path / "cache"), "STAMP_DEMO": "none", "STAMP_MAX_JOBS": "8"}
    server = subprocess.Popen(
        [sys.executable, "-c", "import waitress; from dashboard.server.wsgi import server; "
         f"waitress.serve(server, host='127.0.0.1', port={port}, threads=12)"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/"
    peak = [0.0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_mb(server.pid))
            time.sleep(0.1)

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + "healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "the server did not start"
            time.sleep(0.2)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()

        def one_session(index: int):
            path, n = datasets[index]
            client = DashClient(http_transport(base))
            session = client.store("session-id")
            descriptor = client.upload([path], session)
            answer = client.call("job-result.data", {"dataset.data": descriptor["dataset"]["data"],
                                                     "session-id.data": session}, changed=["dataset.data"],
                                 timeout_s=TIME_BOUND_S)
            result = answer["job-result"]["data"]
            values = {"view-tabs.active_tab": "tab-spectrum", "job-result.data": result, "session-id.data": session}
            player = client.call("spectrum-slider.max", values)
            return client, session, result, n, (player["spectrum-slider"]["max"], player["spectrum-frames"]["data"])

        started = time.monotonic()
        with ThreadPoolExecutor(SESSIONS) as pool:
            outcomes = list(pool.map(one_session, range(SESSIONS)))
        elapsed = time.monotonic() - started
        stop.set()

        assert elapsed < TIME_BOUND_S, f"{SESSIONS} sessions took {elapsed:.1f} s"
        assert 50 < peak[0] < RSS_BOUND_MB, f"server and jobs peaked at {peak[0]:.0f} MB"
        assert len({o[2]["ticket"] for o in outcomes}) == SESSIONS
        for client, session, result, n, (slider_max, frames) in outcomes:
            summary = dict(result["summary"])
            assert summary["Integrations"] == str(n) and f"session{(n - 40) // 4}_SpecData.h5" in result["label"]
            assert slider_max == n and frames["n"] == n  # the player (1-based) shows this session's own cube
        # Another session's (or a forged) ticket returns nothing.
        client, session, result, n, _ = outcomes[0]
        other_result = outcomes[1][2]
        values = {"view-tabs.active_tab": "tab-spectrum", "job-result.data": other_result, "session-id.data": session}
        assert client.call("spectrum-slider.max", values)["spectrum-frames"]["data"] is None
        forged = {**values, "job-result.data": {**result, "ticket": "0" * 32}}
        assert client.call("spectrum-slider.max", forged)["spectrum-frames"]["data"] is None
        assert requests.get(base + "healthz", timeout=5).json() == {"status": "ok"}
    finally:
        stop.set()
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
