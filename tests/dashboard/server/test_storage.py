"""Room on the cache disk: quotas per page and for the server, free space kept, /healthz on a low disk, file counts."""

from __future__ import annotations

import dataclasses
import os
import shutil

import numpy as np
import pytest

from dashboard.app import create_app
from tests.helpers.dashboard_client import DashClient, flask_transport
from dashboard.server.config import Config
from dashboard.server.datasets import UploadRejected, resolve
from dashboard import exports
from dashboard.features.job import browser_result
from dashboard.jobs import run_job
from dashboard.server.services import build_services
from dashboard.server.storage import session_bytes, stored_bytes
from dashboard.server.upload_route import SESSION_HEADER
from tests.helpers.upload_helpers import upload_files

SESSION_A = "a" * 32
SESSION_B = "b" * 32
MB = 1024 * 1024


def _blob(seed: int, size: int = 600 * 1024) -> bytes:
    return np.random.default_rng(seed).bytes(size)


def _low_disk(config: Config) -> Config:
    """The same folder, with a free-space minimum above what this disk has free (a full disk, for real)."""
    free_mb = shutil.disk_usage(config.cache_dir).free // MB
    return dataclasses.replace(config, min_free_mb=free_mb + 10_000)


def test_a_page_cannot_store_more_than_its_quota_and_others_still_can(tmp_path):
    config = Config(cache_dir=tmp_path / "cache", demo_path=None, session_quota_mb=1)
    upload_files(config, SESSION_A, [("one.fits", _blob(1))])
    with pytest.raises(UploadRejected, match=r"this page already stores 0\.6 MB.*quota of 1 MB \(STAMP_SESSION_QUOTA_MB\)"):
        upload_files(config, SESSION_A, [("two.fits", _blob(2))])
    assert session_bytes(config, SESSION_A) == 600 * 1024  # nothing half-written
    upload_files(config, SESSION_B, [("three.fits", _blob(3))])


def test_all_pages_together_cannot_pass_the_server_quota(tmp_path):
    config = Config(cache_dir=tmp_path / "cache", demo_path=None, storage_quota_mb=1)
    upload_files(config, SESSION_A, [("one.fits", _blob(1))])
    with pytest.raises(UploadRejected, match=r"storage for uploads and downloads is full.*STAMP_STORAGE_QUOTA_MB"):
        upload_files(config, SESSION_B, [("two.fits", _blob(2))])
    assert stored_bytes(config) == 600 * 1024


def test_a_low_disk_refuses_writes_with_a_message_and_makes_healthz_503(tmp_path):
    config = Config(cache_dir=tmp_path / "cache", demo_path=None)
    app = create_app(config)
    http = app.server.test_client()
    assert http.get("/healthz").status_code == 200
    low = _low_disk(config)
    app = create_app(low)
    http = app.server.test_client()
    health = http.get("/healthz")
    assert health.status_code == 503 and health.get_json()["disk"].startswith("low: ")
    assert "STAMP_MIN_FREE_MB" in health.get_json()["disk"] and "cache" not in health.get_json()  # only failures
    # the page's upload gets a message, not an HTTP 500
    client = DashClient(flask_transport(http))
    session = client.store("session-id")
    begin = http.post("/upload/", json={"files": [{"name": "x.fits", "size": 600 * 1024}]},
                      headers={SESSION_HEADER: session})
    assert begin.status_code == 507 and "disk is almost full" in begin.get_json()["error"]
    assert not (low.uploads_dir / session).exists()
    # a job is not started either (its cubes would not fit)
    demo = dataclasses.replace(low, demo_path=Config().demo_path)
    outcome = run_job(build_services(demo), {"kind": "demo"}, {}, session=SESSION_A)
    assert outcome.result is None and outcome.message.startswith("Not started: the server's cache disk is low")


def test_downloads_count_against_the_quota_and_are_refused_with_a_message(tmp_path):
    config = Config(cache_dir=tmp_path / "cache", session_quota_mb=1)
    services = build_services(config)
    result = browser_result(run_job(services, {"kind": "demo"}, {}, session=SESSION_A).result)
    first = exports.run_download(services, "ecsv", result, SESSION_A)
    assert first.download is not None
    (config.uploads_dir / SESSION_A).mkdir(parents=True)
    (config.uploads_dir / SESSION_A / "big.fits").write_bytes(_blob(5, MB))  # the page's earlier upload
    refused = exports.run_download(services, "ecsv", result, SESSION_A)
    assert refused.download is None and "STAMP_SESSION_QUOTA_MB" in refused.message
    assert refused.message.startswith("Not built: this page already stores")
    assert len(list((config.downloads_dir).rglob("*.ecsv"))) == 1
    low = build_services(_low_disk(config))
    assert "disk is almost full" in exports.run_download(low, "ecsv", result, SESSION_A).message


def test_more_files_than_the_limit_are_refused_outside_zips_too(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for i in range(4):
        (data / f"f{i}.fits").write_bytes(b"x")
    config = Config(cache_dir=tmp_path / "cache", data_dir=data, demo_path=None, max_upload_files=3)
    with pytest.raises(UploadRejected, match=r"4 files were sent; this server takes at most 3.*put them in a ZIP"):
        upload_files(config, SESSION_A, [(f"f{i}.fits", b"x") for i in range(4)])
    assert not config.uploads_dir.exists() or not any(config.uploads_dir.iterdir())
    with pytest.raises(ValueError, match="4 files were picked; at most 3"):
        resolve(config, {"kind": "server", "paths": [f"f{i}.fits" for i in range(4)]})
    assert len(resolve(config, {"kind": "server", "paths": ["f0.fits", "f1.fits", "f2.fits"]}).paths) == 3


def test_storage_variables_are_read(tmp_path):
    config = Config.from_env({"STAMP_SESSION_QUOTA_MB": "7", "STAMP_STORAGE_QUOTA_MB": "70", "STAMP_MIN_FREE_MB": "0",
                              "STAMP_MAX_UPLOAD_FILES": "9", "STAMP_JOB_MEMORY_MB": "100",
                              "STAMP_CACHE_DIR": os.fspath(tmp_path)})
    assert (config.session_quota_mb, config.storage_quota_mb, config.min_free_mb, config.max_upload_files,
            config.job_memory_mb) == (7, 70, 0, 9, 100)
