"""Dashboard configuration: environment parsing, path safety, security headers, routes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dashboard.app import create_app
from dashboard.server.config import (
    SHIPPED_DEMO,
    UPLOAD_CHUNK_BYTES,
    Config,
    ConfigError,
    normalize_prefix,
)
from dashboard.server.data_folder import UnsafePath, list_data_files, safe_data_path
from dashboard.server.security import security_headers


# ------------------------------------------------------------------ from_env
def test_defaults_without_any_variable(tmp_path):
    config = Config.from_env({"XDG_CACHE_HOME": str(tmp_path)})
    assert config.url_prefix == "/"
    assert config.data_dir is None
    assert config.cache_dir == tmp_path / "stamp"
    assert config.max_upload_mb == 8192 and config.cache_size_mb == 2048  # a real TSO (~2.8 GB) fits
    assert config.frame_ancestors == ()
    assert config.background == "diskcache"
    assert config.demo_path == SHIPPED_DEMO and SHIPPED_DEMO.is_file()
    assert config.display_limits == {"max_time": 600, "max_wavelength": 500}


def test_every_variable_is_read(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    demo = tmp_path / "other.h5"
    demo.write_bytes(b"x")
    config = Config.from_env({
        "STAMP_URL_PREFIX": "tools/stamp",
        "STAMP_DATA_DIR": str(data),
        "STAMP_CACHE_DIR": str(tmp_path / "cache"),
        "STAMP_CACHE_SIZE_MB": "64",
        "STAMP_MAX_UPLOAD_MB": "5",
        "STAMP_UPLOAD_TTL_HOURS": "1.5",
        "STAMP_FRAME_ANCESTORS": "https://portal.example.org, https://*.example.net:8443",
        "STAMP_DEMO": str(demo),
        "STAMP_DISPLAY_MAX_TIME": "100",
        "STAMP_DISPLAY_MAX_WAVE": "80",
    })
    assert config.url_prefix == "/tools/stamp/"
    assert config.data_dir == data.resolve()
    assert config.cache_dir == (tmp_path / "cache").resolve()
    assert (config.cache_size_mb, config.max_upload_mb, config.upload_ttl_hours) == (64, 5, 1.5)
    assert config.max_upload_bytes == 5 * 2**20
    # an upload travels in chunks: the request limit is one chunk (and a little), whatever the upload limit
    assert UPLOAD_CHUNK_BYTES < config.max_request_bytes <= UPLOAD_CHUNK_BYTES + 2**20
    assert Config.from_env({"STAMP_MAX_UPLOAD_MB": "20000"}).max_request_bytes == config.max_request_bytes
    assert config.frame_ancestors == ("https://portal.example.org", "https://*.example.net:8443")
    assert config.demo_path == demo.resolve()
    assert config.display_limits == {"max_time": 100, "max_wavelength": 80}


def test_demo_can_be_switched_off():
    assert Config.from_env({"STAMP_DEMO": "none"}).demo_path is None


@pytest.mark.parametrize(
    "env, names",
    [
        ({"STAMP_MAX_UPLOAD_MB": "lots"}, "STAMP_MAX_UPLOAD_MB"),
        ({"STAMP_CACHE_SIZE_MB": "0"}, "STAMP_CACHE_SIZE_MB"),
        ({"STAMP_DATA_DIR": "/no/such/folder"}, "STAMP_DATA_DIR"),
        ({"STAMP_DEMO": "/no/such/file.h5"}, "STAMP_DEMO"),
        ({"STAMP_BACKGROUND": "threads"}, "STAMP_BACKGROUND"),
        ({"STAMP_BACKGROUND": "celery"}, "STAMP_REDIS_URL"),
        ({"STAMP_FRAME_ANCESTORS": "https://a.org; script-src *"}, "STAMP_FRAME_ANCESTORS"),
        ({"STAMP_FRAME_ANCESTORS": "javascript:alert(1)"}, "STAMP_FRAME_ANCESTORS"),
        ({"STAMP_URL_PREFIX": "/a/../b"}, "STAMP_URL_PREFIX"),
        ({"STAMP_URL_PREFIX": "/a b/"}, "STAMP_URL_PREFIX"),
        ({"STAMP_DISPLAY_MAX_TIME": "3"}, "STAMP_DISPLAY_MAX_TIME"),
    ],
)
def test_unusable_values_name_the_variable(env, names):
    with pytest.raises(ConfigError, match=names):
        Config.from_env(env)


@pytest.mark.parametrize("raw, expected", [("", "/"), ("/", "/"), ("stamp", "/stamp/"), ("/a/b/", "/a/b/"), ("//a//b", "/a/b/")])
def test_prefix_is_normalized(raw, expected):
    assert normalize_prefix(raw) == expected


# ----------------------------------------------------------- data folder
@pytest.fixture
def data_dir(tmp_path) -> Path:
    root = tmp_path / "data"
    (root / "visit1").mkdir(parents=True)
    (root / "visit1" / "a_x1dints.fits").write_bytes(b"a")
    (root / "b_SpecData.h5").write_bytes(b"b")
    (root / "notes.txt").write_text("not data")
    (root / ".hidden.fits").write_bytes(b"h")
    secret = tmp_path / "secret.fits"
    secret.write_bytes(b"s")
    os.symlink(secret, root / "link_out.fits")
    return root


def test_data_folder_paths_stay_inside(data_dir):
    assert safe_data_path(data_dir, "visit1/a_x1dints.fits") == (data_dir / "visit1" / "a_x1dints.fits").resolve()
    for bad in ("../secret.fits", "visit1/../../secret.fits", str(data_dir.parent / "secret.fits"),
                "link_out.fits", "visit1", "missing.fits", "", "a\x00b"):
        with pytest.raises(UnsafePath):
            safe_data_path(data_dir, bad)
    with pytest.raises(UnsafePath, match="no data folder"):
        safe_data_path(None, "visit1/a_x1dints.fits")


def test_data_folder_listing_shows_only_data_inside(data_dir):
    assert list_data_files(data_dir) == ["b_SpecData.h5", "visit1/a_x1dints.fits"]
    assert list_data_files(None) == []


# --------------------------------------------------- headers and routes
def test_framing_refused_by_default():
    headers = security_headers(Config())
    assert headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_framing_allowed_for_configured_origins():
    headers = security_headers(Config(frame_ancestors=("https://portal.example.org", "'self'")))
    assert "X-Frame-Options" not in headers
    assert "frame-ancestors https://portal.example.org 'self';" in headers["Content-Security-Policy"]


@pytest.fixture
def app_factory(tmp_path):
    def build(**settings):
        return create_app(Config(cache_dir=tmp_path / "cache", **settings))

    return build


def test_every_response_carries_the_headers(app_factory):
    client = app_factory().server.test_client()
    for path in ("/", "/healthz", "/_dash-layout", "/no-such-page"):
        response = client.get(path)
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path
    framed = app_factory(frame_ancestors=("https://portal.example.org",)).server.test_client().get("/")
    assert "X-Frame-Options" not in framed.headers
    assert "frame-ancestors https://portal.example.org" in framed.headers["Content-Security-Policy"]


def test_healthz_and_page(app_factory):
    client = app_factory().server.test_client()
    health = client.get("/healthz")
    assert health.status_code == 200 and health.get_json() == {"status": "ok"}
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # everything is served by the app itself: no CDN, works offline
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html
    assert "/assets/00-bootstrap-5.2.3.min.css" in html
    assert client.get("/assets/00-bootstrap-5.2.3.min.css").status_code == 200
    assert client.get("/assets/stamp_dashboard.js").status_code == 200


def test_everything_moves_under_the_url_prefix(app_factory):
    app = app_factory(url_prefix="/portal/stamp/")
    client = app.server.test_client()
    assert client.get("/portal/stamp/healthz").get_json() == {"status": "ok"}
    page = client.get("/portal/stamp/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '"requests_pathname_prefix":"\\u002fportal\\u002fstamp\\u002f"' in html
    assert "/portal/stamp/assets/stamp.css" in html
    assert client.get("/portal/stamp/_dash-layout").status_code == 200
    assert client.get("/portal/stamp/_dash-dependencies").status_code == 200
    assert client.get("/").status_code == 404
    assert client.get("/_dash-layout").status_code == 404


def test_request_over_the_request_limit_is_refused(app_factory):
    app = app_factory(max_upload_mb=1)
    client = app.server.test_client()
    assert app.server.config["MAX_CONTENT_LENGTH"] == UPLOAD_CHUNK_BYTES + 2**20
    body = b"x" * (app.server.config["MAX_CONTENT_LENGTH"] + 1)
    for path in ("/_dash-update-component", "/upload/"):
        response = client.post(path, data=body, content_type="application/json")
        assert response.status_code == 413
        assert "this server's limit of 9 MB" in response.get_json()["error"]


def test_wsgi_module_exposes_a_server(monkeypatch, tmp_path):
    import importlib
    import sys

    monkeypatch.setenv("STAMP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("STAMP_URL_PREFIX", "/w/")
    sys.modules.pop("dashboard.server.wsgi", None)
    wsgi = importlib.import_module("dashboard.server.wsgi")
    try:
        assert wsgi.server.test_client().get("/w/healthz").get_json() == {"status": "ok"}
        assert wsgi.celery_app is None
    finally:
        sys.modules.pop("dashboard.server.wsgi", None)


def test_band_highlighting_is_wired_only_in_the_browser(app_factory):
    from dashboard import ids

    app = app_factory()
    browser_only = {ids.SELECTED_BAND, ids.BAND_ALL, ids.BAND_BUTTON_TYPE}

    def input_ids(callback):
        return {i["id"] if isinstance(i["id"], str) else i["id"]["type"] for i in callback["inputs"]}

    server = [c for c in app._callback_list if not c.get("clientside_function")]
    client = [c for c in app._callback_list if c.get("clientside_function")]
    assert all(not (input_ids(c) & browser_only) for c in server)
    def output_ids(callback):  # "id.prop[@hash]", or "..id1.prop...id2.prop.." for several outputs
        parts = (part.split("@")[0] for part in callback["output"].strip(".").split("..."))
        return {part.rsplit(".", 1)[0] for part in parts if part.endswith(".figure")}

    highlight = [c for c in client if ids.SELECTED_BAND in input_ids(c) and "figure" in c["output"]]
    assert set().union(*(output_ids(c) for c in highlight)) == {
        ids.SURFACE, ids.HEATMAP, ids.LIGHTCURVES, ids.SPECTRUM,
        ids.EXPLORE_SPECTRUM, ids.EXPLORE_LIGHTCURVE,  # the linked panels follow the highlight too
    }
    # the job runs in the background with progress, cancel and a disabled Process button
    job = next(c for c in server if ids.PROCESS in input_ids(c))
    assert job["background"] and job["running"]["running"][f"{ids.PROCESS}.disabled"] is True
    assert job["running"]["runningOff"][f"{ids.CANCEL}.disabled"] is True


def test_the_chooser_and_the_server_picker_offer_only_what_the_engine_reads(tmp_path):
    """One list of accepted endings, in the engine: a tar archive (which load() does not
    read) is neither offered by the file chooser nor listed by the server picker."""
    from dashboard.features.data_in import ACCEPT
    from dashboard.server.data_folder import list_data_files
    from stamp_engine.io.containers import ACCEPTED_SUFFIXES

    offered = ACCEPT.split(",")
    assert offered == list(ACCEPTED_SUFFIXES) and not {".tar", ".tgz", ".tar.gz"} & set(offered)
    for name in ("a_x1dints.fits", "b_SpecData.h5", "c.zip", "d_x1dints.fits.gz", "e.tar", "f.tgz", "g.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert list_data_files(tmp_path) == ["a_x1dints.fits", "b_SpecData.h5", "c.zip", "d_x1dints.fits.gz"]
