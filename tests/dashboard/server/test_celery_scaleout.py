"""Scale-out for real: Debian's redis-server, a Celery worker process, and a job run through the dashboard.

The test process plays the web server (Flask test client, the same requests a
browser sends); the job itself must run in the separate Celery worker, which
shares only Redis and the cache folder with it.  ``celery`` and ``redis`` must be
installed: this test fails, never skips, without them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import celery  # noqa: F401 — a missing celery must fail the test run, not skip it
import redis

from dashboard.app import create_app
from tests.helpers.dashboard_client import DashClient, flask_transport
from dashboard.server.config import Config
from stamp_engine import load
from stamp_engine.recipe import ProcessOptions, process
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.eureka import write_eureka_s3

from tests.helpers.paths import REPO

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(predicate, timeout: float, what: str, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s\n{tail}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture
def redis_url(tmp_path):
    assert Path(REDIS_SERVER).is_file(), "redis-server is not installed (Debian package redis-server)"
    port = _free_port()
    folder = tmp_path / "redis"
    folder.mkdir()
    server = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(folder), "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)

    def up():
        try:
            return client.ping()
        except redis.ConnectionError:
            return False

    try:
        _wait(up, 15, "redis-server answering")
        yield url, server
    finally:
        client.close()
        _stop(server)


def readme_worker_command() -> list[str]:
    """The README's scale-out worker command (``stamp worker …``), as the test runs it."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    line = re.search(r"^(stamp worker [^#\n]*)", readme, re.MULTILINE)
    assert line, "the README shows no `stamp worker` command"
    words = line.group(1).split()
    assert words[:2] == ["stamp", "worker"]
    # `stamp` is the console script of stamp_engine.cli:main; run that module from this checkout.
    return [sys.executable, "-m", "stamp_engine.cli", *words[1:]]


def start_worker(tmp_path: Path, url: str, cache: Path, log: Path, *, env_extra: dict | None = None):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([*(env_extra or {}).pop("PYTHONPATH_FIRST", []), str(REPO),
                                       os.environ.get("PYTHONPATH", "")]),
        "STAMP_BACKGROUND": "celery",
        "STAMP_REDIS_URL": url,
        "STAMP_CACHE_DIR": str(cache),
        "STAMP_DEMO": "none",
        **(env_extra or {}),
    }
    start = log.stat().st_size if log.exists() else 0
    with log.open("ab") as sink:
        worker = subprocess.Popen(
            [*readme_worker_command(), "--without-gossip", "--without-mingle", "--hostname", "stamp-test@%h"],
            env=env, cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )
    _wait(lambda: "ready" in log.read_bytes()[start:].decode(errors="replace") or worker.poll() is not None, 90,
          "the Celery worker starting", log)
    assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
    return worker


@pytest.fixture
def celery_setup(tmp_path, redis_url, stamp_commands):
    """(config, worker log) with a Celery worker process running against the test Redis."""
    url, redis_process = redis_url
    cache = tmp_path / "shared-cache"
    log = tmp_path / "worker.log"
    worker = start_worker(tmp_path, url, cache, log)
    try:
        config = Config(cache_dir=cache, background="celery", redis_url=url, demo_path=None)
        yield config, log, worker, redis_process
    finally:
        _stop(worker)


def test_job_runs_on_the_celery_worker_and_the_result_is_shared(tmp_path, celery_setup):
    config, log, worker, redis_process = celery_setup
    obs = make_observation(kind="variability", n_integrations=120, n_visits=1, wavelength=np.linspace(0.8, 5.0, 60),
                           snr=5000.0, seed=11)
    source = tmp_path / "wasp_SpecData.h5"
    write_eureka_s3(source, obs, flux_units="mJy")

    app = create_app(config)
    services = app.server.extensions["stamp_services"]
    client = DashClient(flask_transport(app.server.test_client()))
    session = client.store("session-id")

    # Upload (chunks to the web process's upload route, then a plain callback), then process (a background callback).
    received = client.upload([source], session)
    descriptor = received["dataset"]["data"]
    assert descriptor["kind"] == "upload" and descriptor["names"] == [source.name]

    started = time.monotonic()
    answer = client.call("job-result.data", {"dataset.data": descriptor, "session-id.data": session,
                                             "normalization.value": "median", "zaxis.value": "variability"},
                         changed=["dataset.data"], timeout_s=90)
    assert time.monotonic() - started < 90
    assert "job-result" in answer, answer
    result = answer["job-result"]["data"]
    assert "key" not in result, "the browser must never hold a cache key"

    # The job ran in the worker: its one JSON job line is in the worker's log, not ours.
    lines = [json.loads(line.split(" INFO ", 1)[1]) for line in log.read_text().splitlines()
             if "stamp.jobs INFO" in line]
    assert len(lines) == 1 and lines[0]["outcome"] == "ok" and lines[0]["files"] == 1
    assert lines[0]["bytes"] == source.stat().st_size and lines[0]["dataset"] == "upload"

    # The worker wrote the processed cube into the shared cache; this process reads it back.
    key = services.cubes.redeem(result["ticket"], session)
    assert key is not None
    cube = services.cubes.processed(key)
    expected = process(load([source]), ProcessOptions(normalization="median"))
    assert cube.is_normalized and cube.flux.shape == (120, 60)
    np.testing.assert_allclose(cube.flux, expected.flux, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(cube.wavelength, np.sort(obs.wavelength), rtol=1e-6)  # float32 in the file
    semi_amplitude = (np.nanpercentile(cube.flux, 99, axis=0) - np.nanpercentile(cube.flux, 1, axis=0)) / 2
    assert np.allclose(semi_amplitude, obs.truth["amplitude"] * 100, rtol=0.15, atol=0.1)

    # The views draw it in the web process; another page's session gets nothing.
    values = {"view-tabs.active_tab": "tab-heatmap", "job-result.data": result, "session-id.data": session}
    drawn = client.call("heatmap-graph.figure", values)
    assert any(trace.get("type") == "heatmap" for trace in drawn["heatmap-graph"]["figure"]["data"])
    other = DashClient(flask_transport(app.server.test_client()))
    stolen = other.call("heatmap-graph.figure", {**values, "session-id.data": other.store("session-id")})
    assert stolen["heatmap-graph"]["figure"]["data"] == []

    # Health: cache and broker reachable; with Redis gone the check says so (503), the app stays up.
    http = app.server.test_client()
    assert http.get("/healthz").get_json() == {"status": "ok"}
    redis_process.terminate()
    redis_process.wait(10)
    down = http.get("/healthz")
    assert down.status_code == 503 and down.get_json()["broker"].startswith("unreachable")
    assert http.get("/_dash-layout").status_code == 200


# ------------------------------------------------------------------ lost jobs end visibly
#: Imported by the worker's Python at start-up (PYTHONPATH): the real loader behind a slow disk,
#: recording which process reads, so the test can kill the job while it runs.
SLOW_DISK = '''
import os, time
from pathlib import Path
import stamp_engine

_real_load = stamp_engine.load

def _slow_load(paths, progress=None, workdir=None, **load_options):
    Path(os.environ["STAMP_TEST_READER_PID"]).write_text(str(os.getpid()))
    for i in range(600):
        if progress:
            progress("Waiting for a slow disk", i, 600)
        time.sleep(0.1)
    return _real_load(paths, progress=progress, workdir=workdir)

stamp_engine.load = _slow_load
'''


def _slow_worker(tmp_path: Path, url: str, cache: Path, log: Path, pid_file: Path):
    hook = tmp_path / "slow-disk"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(SLOW_DISK)
    return start_worker(tmp_path, url, cache, log,
                        env_extra={"PYTHONPATH_FIRST": [str(hook)], "STAMP_TEST_READER_PID": str(pid_file)})


def _kill_tree(pid: int) -> None:
    import psutil

    victims = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    for victim in victims:
        try:
            victim.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(victims, timeout=10)


@pytest.mark.parametrize("victim", ["pool process", "whole worker"])
def test_a_job_lost_with_its_celery_worker_ends_with_a_message(tmp_path, redis_url, stamp_commands, victim):
    import psutil

    url, _ = redis_url
    cache, log, pid_file = tmp_path / "shared-cache", tmp_path / "worker.log", tmp_path / "reader.pid"
    worker = _slow_worker(tmp_path, url, cache, log, pid_file)
    try:
        obs = make_observation(kind="variability", n_integrations=40, n_visits=1, wavelength=np.linspace(1, 4, 20),
                               seed=5)
        source = tmp_path / "lost_SpecData.h5"
        write_eureka_s3(source, obs, flux_units="mJy")
        app = create_app(Config(cache_dir=cache, background="celery", redis_url=url, demo_path=None))
        client = DashClient(flask_transport(app.server.test_client()))
        session = client.store("session-id")
        descriptor = client.upload([source], session)["dataset"]["data"]
        body, status, first = client.submit("job-result.data", {"dataset.data": descriptor,
                                                                "session-id.data": session}, changed=["dataset.data"])
        assert status == 200 and "cacheKey" in first, first
        _wait(pid_file.exists, 60, "the job reading on the worker", log)
        reader = int(pid_file.read_text())
        pool_process = psutil.Process(reader).ppid()
        assert pool_process != worker.pid
        if victim == "pool process":
            os.kill(pool_process, 9)
            expected = "worker process running the job died"
        else:
            _kill_tree(worker.pid)
            expected = "worker was lost"
        killed = time.monotonic()
        response = client.follow("job-result.data", body, status, first, poll_s=0.3, timeout_s=40)
        text = json.dumps(response.get("job-message", {}))
        assert expected in text and "press Process again" in text, response
        assert time.monotonic() - killed < 25
        _wait(lambda: not psutil.pid_exists(reader) or psutil.Process(reader).status() == psutil.STATUS_ZOMBIE,
              10, "the reader ending with its runner")
        if victim == "whole worker":
            # a restarted worker serves the next job; the lost one is not run again
            pid_file.unlink()
            worker = _slow_worker(tmp_path, url, cache, log, pid_file)
            time.sleep(3)
            assert not pid_file.exists(), "the lost job must not be re-run"
    finally:
        _stop(worker)


def test_stamp_worker_hands_celery_options_through_and_other_commands_still_refuse_unknown_ones(monkeypatch, stamp_commands):
    from stamp_engine import cli
    import dashboard.server.worker

    seen = []
    monkeypatch.setattr(dashboard.server.worker, "run_worker", lambda args: seen.append(args))
    words = readme_worker_command()[3:]  # after "python -m stamp_engine.cli"
    assert cli.main([*words, "--pool", "solo", "-Q", "jobs"]) == 0
    assert seen == [[*words[1:], "--pool", "solo", "-Q", "jobs"]] and "--concurrency" in words
    assert cli.main(["serve", "--concurrency", "4"]) != 0
