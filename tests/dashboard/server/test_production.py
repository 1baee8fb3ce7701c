"""Production concerns without a browser: health, job logs, access control, limits, isolation, eviction, cleanup."""

from __future__ import annotations

import base64
import io
import json
import logging
import multiprocessing
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from tests.helpers.dashboard_client import DashClient, flask_transport
from tests.helpers.upload_helpers import CountingInput, upload_files

import stamp_engine
from dashboard.app import create_app
from dashboard.cache import DROPPED_FOR_SPACE, CubeCache, cube_group, session_hash
from dashboard.jobs import run_job
from dashboard.server.config import Config, ConfigError
from dashboard.server.gate import JobRefused
from dashboard.server.security import hash_password, password_matches
from dashboard.server.serve import gunicorn_settings
from dashboard.server.services import build_services
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.eureka import write_eureka_s3

SESSION_A = "a" * 32
SESSION_B = "b" * 32


@pytest.fixture(scope="module")
def eureka_file(tmp_path_factory) -> tuple[Path, object]:
    obs = make_observation(kind="variability", n_integrations=80, wavelength=np.linspace(1.0, 4.0, 40), seed=2)
    path = tmp_path_factory.mktemp("data") / "small_SpecData.h5"
    write_eureka_s3(path, obs, flux_units="mJy")
    return path, obs


def _upload(config: Config, session: str, path: Path) -> dict:
    return upload_files(config, session, [path])


# -------------------------------------------------------------------- health
def test_healthz_reports_an_unusable_cache(tmp_path):
    app = create_app(Config(cache_dir=tmp_path / "cache", demo_path=None))
    client = app.server.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    # The cache folder vanishes and a file takes its place (a lost mount, a full or read-only disk).
    services = app.server.extensions["stamp_services"]
    services.cubes.cache.disk.close()
    cubes = tmp_path / "cache" / "cubes"
    for item in cubes.iterdir():
        item.unlink()
    cubes.rmdir()
    cubes.write_text("not a folder")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable" and response.get_json()["cache"].startswith("unreachable")


# ---------------------------------------------------------------- job logging
def _job_lines(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "stamp.jobs" and r.levelno == logging.INFO]


def test_one_json_log_line_per_job_without_file_contents(tmp_path, eureka_file, caplog):
    path, _ = eureka_file
    config = Config(cache_dir=tmp_path / "cache", demo_path=None)
    services = build_services(config)
    descriptor = _upload(config, SESSION_A, path)
    caplog.set_level(logging.INFO, logger="stamp.jobs")
    outcome = run_job(services, descriptor, {"bin_time": 2, "wavelength": [None, None]}, session=SESSION_A)
    assert outcome.message is None
    (line,) = _job_lines(caplog)
    assert line["event"] == "job" and line["outcome"] == "ok"
    assert line["session"] == session_hash(SESSION_A) and SESSION_A not in json.dumps(line)
    assert line["files"] == 1 and line["bytes"] == path.stat().st_size and line["dataset"] == "upload"
    assert line["options"] == {"bin_time": 2, "wavelength": [None, None]}
    assert 0 < line["duration_s"] < 60
    # File names and contents never reach the log.
    assert path.name not in caplog.text and "HDF" not in caplog.text

    caplog.clear()
    broken = tmp_path / "broken_x1dints.fits"
    broken.write_bytes(b"SIMPLE  =                    T" + b"\0" * 50)
    bad = run_job(services, _upload(config, SESSION_A, broken), {}, session=SESSION_A)
    (line,) = _job_lines(caplog)
    assert bad.result is None and line["outcome"] == "unusable-data" and line["message"] == bad.message

    caplog.clear()
    refused = run_job(services, {"kind": "server", "paths": ["../../etc/passwd"]}, {}, session=SESSION_A)
    (line,) = _job_lines(caplog)
    assert refused.message.startswith("Cannot open the data") and line["outcome"] == "bad-dataset"


def test_an_unexpected_error_becomes_a_message_and_a_logged_traceback(tmp_path, eureka_file, caplog):
    path, _ = eureka_file

    def crashing_loader(paths, progress=None, workdir=None):
        raise RuntimeError("simulated bug")

    config = Config(cache_dir=tmp_path / "cache", demo_path=None)
    services = build_services(config, loader=crashing_loader)
    caplog.set_level(logging.INFO, logger="stamp.jobs")
    outcome = run_job(services, _upload(config, SESSION_A, path), {}, session=SESSION_A)
    assert outcome.result is None and "unexpectedly" in outcome.message
    assert _job_lines(caplog)[-1]["outcome"] == "error" and _job_lines(caplog)[-1]["error"] == "RuntimeError"
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)


# ------------------------------------------------------------- access control
def test_access_control_is_off_by_default(tmp_path):
    client = create_app(Config(cache_dir=tmp_path, demo_path=None)).server.test_client()
    assert client.get("/").status_code == 200


def test_trusted_user_header_from_the_portal_proxy(tmp_path):
    config = Config.from_env({"STAMP_CACHE_DIR": str(tmp_path), "STAMP_DEMO": "none", "STAMP_AUTH_HEADER": "X-Remote-User",
                              "STAMP_URL_PREFIX": "/portal/stamp/"})
    client = create_app(config).server.test_client()
    for path in ("/portal/stamp/", "/portal/stamp/_dash-layout", "/portal/stamp/_dash-dependencies",
                 "/portal/stamp/assets/stamp_dashboard.js"):
        refused = client.get(path)
        assert refused.status_code == 401 and "WWW-Authenticate" not in refused.headers
        assert client.get(path, headers={"X-Remote-User": "alice"}).status_code == 200
    assert client.get("/portal/stamp/", headers={"X-Remote-User": "  "}).status_code == 401
    # the container health check needs no credentials; security headers are on refusals too
    assert client.get("/portal/stamp/healthz").get_json() == {"status": "ok"}
    assert client.get("/portal/stamp/").headers["X-Frame-Options"] == "DENY"
    # a callback without the header is refused before it runs
    response = client.post("/portal/stamp/_dash-update-component", json={"output": "x.y"})
    assert response.status_code == 401


@pytest.mark.parametrize("secret", ["s3cret pass", "sha256$" + __import__("hashlib").sha256(b"s3cret pass").hexdigest(),
                                    hash_password("s3cret pass", iterations=1000)])
def test_basic_auth_from_the_environment(tmp_path, secret):
    assert password_matches(secret, "s3cret pass") and not password_matches(secret, "s3cret pas")
    config = Config(cache_dir=tmp_path, demo_path=None, basic_auth=(("carol", secret), ("dave", "other")))
    # without cookies: each request is checked on its credentials alone (the sign-in cookie is tested below)
    client = create_app(config).server.test_client(use_cookies=False)

    def auth(user, password):
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}

    refused = client.get("/")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Basic")
    assert client.get("/", headers=auth("carol", "s3cret pass")).status_code == 200
    assert client.get("/", headers=auth("carol", "wrong")).status_code == 401
    assert client.get("/", headers=auth("dave", "s3cret pass")).status_code == 401
    assert client.get("/", headers=auth("dave", "other")).status_code == 200
    assert client.get("/healthz").status_code == 200


def test_basic_auth_variable_is_parsed_and_checked():
    digest = "sha256$" + "ab" * 32
    config = Config.from_env({"STAMP_BASIC_AUTH": f"ann:pw1, bob:{digest}", "STAMP_DEMO": "none"})
    assert config.basic_auth == (("ann", "pw1"), ("bob", digest)) and config.auth_enabled
    with pytest.raises(ConfigError, match="STAMP_BASIC_AUTH"):
        Config.from_env({"STAMP_BASIC_AUTH": "nocolon", "STAMP_DEMO": "none"})
    with pytest.raises(ConfigError, match="STAMP_AUTH_HEADER"):
        Config.from_env({"STAMP_AUTH_HEADER": "X Remote: User", "STAMP_DEMO": "none"})


def test_frame_ancestors_under_a_prefix(tmp_path):
    config = Config(cache_dir=tmp_path, demo_path=None, url_prefix="/tools/stamp",
                    frame_ancestors=("https://portal.example.org",))
    response = create_app(config).server.test_client().get("/tools/stamp/")
    assert response.status_code == 200
    assert "frame-ancestors https://portal.example.org" in response.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in response.headers


# --------------------------------------------------------------------- limits
def test_upload_limit_refuses_before_reading_the_body(tmp_path):
    app = create_app(Config(cache_dir=tmp_path, demo_path=None, max_upload_mb=1))
    body = CountingInput(50 * 2**20)
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/_dash-update-component", "SERVER_NAME": "localhost",
        "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": body, "wsgi.errors": io.StringIO(),
        "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(body.size), "SERVER_PROTOCOL": "HTTP/1.1",
    }
    statuses = []
    chunks = app.server.wsgi_app(environ, lambda status, headers, exc_info=None: statuses.append(status))
    payload = b"".join(chunks)
    # files travel in chunks, so a request is refused at one chunk's size, whatever the upload limit
    assert statuses[0].startswith("413") and b"this server's limit of 9 MB" in payload
    assert b"uploaded in chunks of 8 MB" in payload
    assert body.read_bytes == 0


def test_per_session_and_server_wide_job_limits(tmp_path, eureka_file):
    path, _ = eureka_file
    release = threading.Event()
    entered = threading.Semaphore(0)

    def slow_loader(paths, progress=None, workdir=None):
        entered.release()
        assert release.wait(30)
        return stamp_engine.load(paths, progress=progress, workdir=workdir)

    config = Config(cache_dir=tmp_path / "cache", demo_path=None, max_jobs=2, max_session_jobs=1)
    services = build_services(config, loader=slow_loader)
    a, b, c = (_upload(config, s, path) for s in (SESSION_A, SESSION_B, "c" * 32))
    outcomes = {}
    threads = [threading.Thread(target=lambda s=s, d=d: outcomes.__setitem__(s, run_job(services, d, {}, session=s)))
               for s, d in ((SESSION_A, a), (SESSION_B, b))]
    for t in threads:
        t.start()
    assert entered.acquire(timeout=30) and entered.acquire(timeout=30)
    again = run_job(services, a, {"bin_time": 2}, session=SESSION_A)
    assert again.result is None and "this page already runs 1 job" in again.message
    busy = run_job(services, c, {}, session="c" * 32)
    assert busy.result is None and "server is busy (2 jobs running" in busy.message
    release.set()
    for t in threads:
        t.join(30)
    assert all(o.result is not None for o in outcomes.values())
    # slots are released: the same session may run again
    assert run_job(services, a, {"bin_time": 2}, session=SESSION_A).result is not None
    assert services.gate.running() == {}


def test_results_are_bound_to_their_session(tmp_path, eureka_file):
    path, _ = eureka_file
    config = Config(cache_dir=tmp_path / "cache", demo_path=None)
    services = build_services(config)
    descriptor = _upload(config, SESSION_A, path)
    outcome = run_job(services, descriptor, {}, session=SESSION_A)
    ticket = outcome.result["ticket"]
    assert services.cubes.redeem(ticket, SESSION_A) == outcome.result["key"]
    assert services.cubes.redeem(ticket, SESSION_B) is None
    assert services.cubes.redeem("0" * 32, SESSION_A) is None
    assert services.cubes.redeem(outcome.result["key"], SESSION_A) is None  # a cache key is not a ticket
    assert services.cubes.redeem(ticket, None) is None and services.cubes.redeem(None, SESSION_A) is None
    # another session cannot process (or read) files uploaded by this one
    stolen = run_job(services, descriptor, {}, session=SESSION_B)
    assert stolen.result is None and "uploaded from another page" in stolen.message


def test_views_draw_nothing_for_a_forged_or_foreign_ticket(tmp_path, eureka_file):
    path, _ = eureka_file
    app = create_app(Config(cache_dir=tmp_path / "cache", demo_path=None))
    mine = DashClient(flask_transport(app.server.test_client()))
    session = mine.store("session-id")
    descriptor = _upload(app.server.extensions["stamp_services"].config, session, path)
    answer = mine.call("job-result.data", {"dataset.data": descriptor, "session-id.data": session},
                       changed=["dataset.data"])
    result = answer["job-result"]["data"]
    assert "key" not in result and len(result["ticket"]) == 32
    values = {"view-tabs.active_tab": "tab-spectrum", "job-result.data": result, "session-id.data": session,
              "spectrum-slider.value": 3}
    drawn = mine.call("spectrum-graph.figure", values)["spectrum-graph"]["figure"]
    assert len(drawn["data"]) >= 1
    theirs = DashClient(flask_transport(app.server.test_client()))
    for forged in ({**values, "session-id.data": theirs.store("session-id")},
                   {**values, "job-result.data": {**result, "ticket": "f" * 32}},
                   {**values, "session-id.data": None}):
        figure = theirs.call("spectrum-graph.figure", forged)["spectrum-graph"]["figure"]
        assert figure["data"] == [] and "no longer on the server" in figure["layout"]["annotations"][0]["text"]


def test_eviction_is_least_recently_used_and_spares_viewed_cubes(tmp_path):
    block = np.random.default_rng(0).normal(size=40_000)  # 320 kB pickled
    cache = CubeCache(tmp_path / "cubes", size_limit=1_200_000, pin_seconds=1.0)
    for name in ("processed-a", "processed-b", "processed-c"):
        cache.set(name, block)
        cache.set(name + "/display/10x10", block[:1000])
    cache.pin("processed-a")          # a live page is viewing a
    assert cache.get("processed-b") is not None  # b was used after c
    cache.set("processed-d", block)
    removed = cache.evict()
    assert "processed-c" in removed and "processed-a" not in removed and "processed-b" not in removed
    assert cache.get("processed-a") is not None and cache.volume() <= 1_200_000
    # with everything pinned, pins yield to the limit: the oldest pin goes first, and its page is told
    for name in ("processed-a", "processed-b", "processed-d"):
        cache.pin(name)
        time.sleep(0.01)
    cache.set("processed-e", block)
    cache.pin("processed-e")
    removed = cache.evict()
    assert {cube_group(k) for k in removed} == {"processed-a"} and cache.volume() <= 1_200_000
    assert cache.why_gone("processed-a/display/10x10") == DROPPED_FOR_SPACE
    assert cache.why_gone("processed-b") is None and cache.get("processed-e") is not None
    # pins expire: the least recently used goes first again
    time.sleep(1.1)
    cache.get("processed-b")
    cache.set("processed-f", block)
    removed = cache.evict()
    assert removed and "processed-b" not in removed and cache.volume() <= 1_200_000
    assert not any(k.startswith("processed-f") for k in removed)


def test_the_cube_cache_never_exceeds_its_limit_and_a_dropped_page_is_told(tmp_path):
    config = Config(cache_dir=tmp_path / "cache", demo_path=None, cache_size_mb=1, pin_minutes=30)
    services = build_services(config)
    limit = config.cache_size_mb * 2**20
    tickets = []
    for seed in range(4):
        obs = make_observation(kind="variability", n_integrations=150, wavelength=np.linspace(1.0, 4.0, 120), seed=seed)
        path = tmp_path / f"obs{seed}_SpecData.h5"
        write_eureka_s3(path, obs)
        session = f"{seed:032x}"
        outcome = run_job(services, _upload(config, session, path), {}, session=session)
        assert outcome.result is not None, outcome.message
        tickets.append((outcome.result["ticket"], session, outcome.result["key"]))
        # each processed cube is ~150 kB and its loaded cube as much: over 1 MB in all without eviction
        assert services.cubes.cache.volume() <= limit
    # every page still viewing (pinned) — the newest results are there, the oldest was dropped and says so
    ticket, session, key = tickets[-1]
    assert services.cubes.redeem(ticket, session) == key and services.cubes.display(key) is not None
    ticket, session, key = tickets[0]
    assert services.cubes.display(key) is None
    assert services.cubes.why_gone(key) == DROPPED_FOR_SPACE
    # and the page shows that message where the heatmap was
    app = create_app(config)
    client = DashClient(flask_transport(app.server.test_client()))
    drawn = client.call("heatmap-graph.figure", {"view-tabs.active_tab": "tab-heatmap", "session-id.data": session,
                                                 "job-result.data": {"ticket": ticket}})
    assert "dropped from the server's cube cache" in json.dumps(drawn["heatmap-graph"]["figure"]["layout"])


def test_a_result_larger_than_the_whole_cache_is_refused_with_a_message(tmp_path, eureka_file):
    path, _ = eureka_file
    config = Config(cache_dir=tmp_path / "cache", demo_path=None, cache_size_mb=1)
    services = build_services(config)
    services.cubes.cache.size_limit = 20_000  # smaller than one cube
    outcome = run_job(services, _upload(config, SESSION_A, path), {}, session=SESSION_A)
    assert outcome.result is None and "more room than the server's cube cache has" in outcome.message
    assert services.cubes.cache.volume() <= 20_000 + 200_000  # only the SQLite index is left


def _killed_job(cache_dir: str, ready) -> None:
    def stuck_loader(paths, progress=None, workdir=None):
        folder = tempfile.mkdtemp(prefix="stamp-inputs-", dir=workdir)
        Path(folder, "expanded.fits").write_bytes(b"x" * 1000)
        ready.set()
        time.sleep(60)

    config = Config(cache_dir=Path(cache_dir), demo_path=None, max_session_jobs=1)
    run_job(build_services(config, loader=stuck_loader), {"kind": "upload", "session": SESSION_A,
                                                          "digest": Path(cache_dir, "digest").read_text()},
            {}, session=SESSION_A)


def test_temporary_files_are_removed_when_a_job_fails_or_is_cancelled(tmp_path, eureka_file):
    path, _ = eureka_file
    config = Config(cache_dir=tmp_path / "cache", demo_path=None, max_session_jobs=1)
    descriptor = _upload(config, SESSION_A, path)
    before = tempfile.gettempdir()

    def failing_loader(paths, progress=None, workdir=None):
        folder = tempfile.mkdtemp(prefix="stamp-inputs-", dir=workdir)
        Path(folder, "expanded.fits").write_bytes(b"x" * 1000)
        assert Path(folder).is_relative_to(config.scratch_dir)
        raise OSError("disk full")

    failed = run_job(build_services(config, loader=failing_loader), descriptor, {}, session=SESSION_A)
    assert failed.result is None and failed.message
    assert not any(config.scratch_dir.iterdir()) and tempfile.gettempdir() == before

    # Cancel: Dash kills the job's process, so nothing in it can clean up; the next job does.
    (config.cache_dir / "digest").write_text(descriptor["digest"])
    ready = multiprocessing.get_context("fork").Event()
    job = multiprocessing.get_context("fork").Process(target=_killed_job, args=(str(config.cache_dir), ready))
    job.start()
    assert ready.wait(30)
    leftovers = list(config.scratch_dir.rglob("expanded.fits"))
    assert len(leftovers) == 1
    job.kill()
    job.join(10)
    services = build_services(config)
    ok = run_job(services, descriptor, {}, session=SESSION_A)  # the killed job no longer counts against the session
    assert ok.result is not None
    assert not leftovers[0].exists() and not any(config.scratch_dir.iterdir())


def test_each_job_gets_its_own_scratch_folder_and_the_process_temp_dir_is_left_alone(tmp_path, eureka_file):
    import socket

    path, _ = eureka_file
    config = Config(cache_dir=tmp_path / "cache", demo_path=None, max_session_jobs=2)
    descriptor = _upload(config, SESSION_A, path)
    before = tempfile.gettempdir()
    seen = []
    both_loading = threading.Barrier(2, timeout=30)

    def loader(paths, progress=None, workdir=None):
        seen.append((Path(workdir), tempfile.gettempdir(), sorted(p.name for p in Path(workdir).iterdir())))
        both_loading.wait()  # two jobs of one process at once, as threads of one web worker run them
        return stamp_engine.load(paths, progress=progress, workdir=workdir)

    services = build_services(config, loader=loader)
    outcomes = []
    jobs = [threading.Thread(target=lambda: outcomes.append(run_job(services, descriptor, {}, session=SESSION_A)))
            for _ in range(2)]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(60)
    assert len(outcomes) == 2 and all(o.result is not None for o in outcomes), [o.message for o in outcomes]
    (first, first_tmp, first_files), (second, second_tmp, second_files) = seen
    own = config.scratch_dir / f"{socket.gethostname()}-{os.getpid()}"
    assert first != second and first.parent == own and second.parent == own
    assert first_files == [] and second_files == []  # fresh folders
    assert first_tmp == second_tmp == before  # nothing rewrites the process-wide tempfile.tempdir
    assert not first.exists() and not second.exists() and not any(config.scratch_dir.iterdir())


def test_production_server_settings_come_from_the_environment():
    config = Config.from_env({"STAMP_DEMO": "none", "STAMP_WORKERS": "3", "STAMP_THREADS": "6", "STAMP_TIMEOUT_S": "900"})
    settings = gunicorn_settings(config, "0.0.0.0", 8050)
    assert settings["workers"] == 3 and settings["threads"] == 6 and settings["timeout"] == 900
    assert settings["bind"] == "0.0.0.0:8050"
    assert gunicorn_settings(config, "127.0.0.1", 9000, workers=5)["workers"] == 5
    with pytest.raises(ConfigError):
        Config.from_env({"STAMP_DEMO": "none", "STAMP_WORKERS": "0"})


def test_job_gate_counts_across_instances_sharing_the_cache(tmp_path):
    from dashboard.server.gate import JobGate

    cache = CubeCache(tmp_path / "cubes", size_limit=10**8)
    first, second = (JobGate(CubeCache(tmp_path / "cubes", 10**8).disk, 1, 1, 60) for _ in range(2))
    with first.slot("x"):
        with pytest.raises(JobRefused, match="server is busy"):
            with second.slot("y"):
                pass
    with second.slot("y"):
        assert len(second.running()) == 1 and len(JobGate(cache.disk, 1, 1, 60).running()) == 1


def _basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_after_one_password_check_each_request_costs_one_hmac(tmp_path, monkeypatch):
    import hashlib
    import hmac

    secret = hash_password("s3cret pass", iterations=2000)
    config = Config(cache_dir=tmp_path, demo_path=None, basic_auth=(("carol", secret), ("dave", "other")))
    client = create_app(config).server.test_client()
    calls = {"pbkdf2": 0, "hmac": 0}
    real_pbkdf2, real_hmac = hashlib.pbkdf2_hmac, hmac.new

    def counted_pbkdf2(*args, **kwargs):
        calls["pbkdf2"] += 1
        return real_pbkdf2(*args, **kwargs)

    def counted_hmac(*args, **kwargs):
        calls["hmac"] += 1
        return real_hmac(*args, **kwargs)

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counted_pbkdf2)
    monkeypatch.setattr(hmac, "new", counted_hmac)
    first = client.get("/_dash-layout", headers=_basic("carol", "s3cret pass"))
    assert first.status_code == 200 and calls["pbkdf2"] == 1  # one hash, not one per configured user
    cookie = first.headers["Set-Cookie"]
    assert cookie.startswith("stamp_login=") and "HttpOnly" in cookie and "Secure" in cookie
    assert "SameSite=Lax" in cookie
    calls.update(pbkdf2=0, hmac=0)
    for _ in range(10):  # the browser keeps sending its basic credentials and the cookie
        assert client.get("/_dash-dependencies", headers=_basic("carol", "s3cret pass")).status_code == 200
    assert calls == {"pbkdf2": 0, "hmac": 10}
    # a forged or tampered cookie is worth nothing
    other = create_app(config).server.test_client()
    other.set_cookie("stamp_login", cookie.split(";")[0].split("=", 1)[1][:-2] + "xx")
    assert other.get("/_dash-layout").status_code == 401
    # a changed password ends old sign-ins
    changed = Config(cache_dir=tmp_path, demo_path=None, basic_auth=(("carol", hash_password("new", iterations=2000)),))
    again = create_app(changed).server.test_client()
    again.set_cookie("stamp_login", cookie.split(";")[0].split("=", 1)[1])
    assert again.get("/_dash-layout").status_code == 401


def test_failed_sign_ins_are_limited_per_address_without_hashing(tmp_path, monkeypatch):
    import hashlib

    config = Config(cache_dir=tmp_path, demo_path=None,
                    basic_auth=(("carol", hash_password("right", iterations=2000)),))
    client = create_app(config).server.test_client(use_cookies=False)
    hashes = []
    real = hashlib.pbkdf2_hmac
    monkeypatch.setattr(hashlib, "pbkdf2_hmac", lambda *a, **k: hashes.append(1) or real(*a, **k))
    for _ in range(10):
        assert client.get("/", headers=_basic("carol", "wrong")).status_code == 401
    assert len(hashes) == 10
    blocked = client.get("/", headers=_basic("carol", "right"))
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in blocked.get_json()["error"] and len(hashes) == 10
    # another address is not held up
    elsewhere = client.get("/", headers=_basic("carol", "right"), environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert elsewhere.status_code == 200


@pytest.mark.parametrize("header", ["Host", "cookie", "User-Agent", "X-Forwarded-For", "Sec-Fetch-Site", "Origin"])
def test_a_header_every_client_sends_is_refused_as_the_user_header(header):
    with pytest.raises(ConfigError, match=f"STAMP_AUTH_HEADER={header}: browsers send"):
        Config.from_env({"STAMP_AUTH_HEADER": header, "STAMP_DEMO": "none"})
    assert Config.from_env({"STAMP_AUTH_HEADER": "X-Remote-User", "STAMP_DEMO": "none"}).auth_header == "X-Remote-User"
