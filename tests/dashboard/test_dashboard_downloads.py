"""The dashboard's downloads without a browser: what each button builds, from the demo cube, and the
route that streams the built file to the page's session only."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import secrets
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from astropy.table import QTable, Table
from dash import no_update

from dashboard import ids
from dashboard.band_rows import preset_rows
from dashboard.cache import session_hash
from dashboard import exports
from dashboard.exports import PageState
from dashboard.features import downloads
from dashboard.features.bands import DEFAULT_PRESET
from dashboard.features.controls import PROCESS_ORDER, raw_options
from dashboard.features.job import browser_result
from dashboard.jobs import run_job
from dashboard.server import download_route
from dashboard.server.config import Config
from dashboard.server.services import build_services
from stamp_engine import figures
from stamp_engine.bands import PRESETS
from stamp_engine.export import package_files, read_cube_fits
from tests.helpers.paths import REPO
from stamp_engine.export import catalogue
from stamp_engine.export.catalogue import PRODUCTS, progress_text
from stamp_engine.export.video import probe_video

SESSION = "0123456789abcdef0123456789abcdef"
OTHER_SESSION = "fedcba9876543210fedcba9876543210"
WHEN = dt.datetime(2025, 3, 4, 5, 6, 7)
STAMP = "20250304_050607"
SMALL_VIDEO = (320, 240)

#: The processing controls as the page starts (the values run_job's defaults correspond to).
DEFAULT_CONTROLS = {
    ids.N_INTEGRATIONS: 0, ids.GAP_HOURS: 0.5, ids.BASELINE_START: None, ids.BASELINE_END: None,
    ids.WAVE_MIN: None, ids.WAVE_MAX: None, ids.TIME_MIN: None, ids.TIME_MAX: None,
    ids.SIGMA_TIME: 0, ids.SIGMA_WAVE: 0, ids.BIN_TIME: 1, ids.BIN_WAVE: 1, ids.CLIP_SIGMA: 0,
    ids.INTERPOLATE_GAPS: False, ids.ZAXIS: "variability", ids.NORMALIZATION: "median",
}


def controls(**changes) -> list:
    """Processing controls' values in PROCESS_ORDER, with ``changes`` keyed by control id."""
    values = {**DEFAULT_CONTROLS, **{getattr(ids, k): v for k, v in changes.items()}}
    return [values[c] for c in PROCESS_ORDER]


def leftovers(config: Config) -> list[Path]:
    """Files and folders a download may have left under the cache folder."""
    roots = [config.cache_dir / "exports", config.scratch_dir]
    return [p for root in roots if root.exists() for p in root.rglob("*")]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Services on a private cache with the demo processed for SESSION; (services, page result, cube)."""
    config = Config(cache_dir=tmp_path_factory.mktemp("downloads") / "cache")
    services = build_services(config)
    outcome = run_job(services, {"kind": "demo"}, {}, session=SESSION)
    assert outcome.message is None
    cube = services.cubes.processed(outcome.result["key"])
    return services, browser_result(outcome.result), cube


def bands_rows():
    """The default preset, one row flagged by the editor (start > end) and one just added (empty)."""
    return [*preset_rows(DEFAULT_PRESET), {"name": "bad", "start": 3.0, "end": 2.0}, {"name": "", "start": None, "end": None}]


def download(demo, kind, **kwargs):
    services, result, _ = demo
    settings = dict(colorscale="Viridis", z_min=-2, z_max=2, band_rows=bands_rows(), raw_options=raw_options(controls()),
                    video_size=SMALL_VIDEO, when=WHEN)
    settings.update(kwargs)
    page = PageState(**{name: settings.pop(name) for name in PAGE_FIELDS if name in settings})
    return exports.run_download(services, kind, result, SESSION, page, **settings)


PAGE_FIELDS = [field.name for field in dataclasses.fields(PageState)]


def figure_jsons(page: str) -> list[dict]:
    return [json.loads(m) for m in re.findall(r'<script type="application/json" data-stamp-figure="[^"]+">(.*?)</script>',
                                              page, flags=re.S)]


def band_buttons(page: str) -> list[str]:
    return re.findall(r'<button type="button" class="stamp-band" data-band="([^"]+)"', page)


def assert_colour_axis(fig: dict, scale: str, zrange: tuple[float, float]):
    axis = fig["layout"]["coloraxis"]
    assert axis["colorscale"] == figures.colorscale(scale)
    assert (axis["cmin"], axis["cmax"]) == zrange


# ------------------------------------------------------------------ package
def test_package_holds_every_file_with_the_current_options(demo):
    services, _, cube = demo
    reports = []

    def report(stage, done, total):
        reports.append((stage, done, total, [p.name for p in services.config.cache_dir.rglob("stamp-download-*")]))

    outcome = download(demo, "package", report=report)
    assert outcome.message == f"Sent stamp_package_{STAMP}.zip ({outcome.download.size / 1e6:.1f} MB)."
    assert outcome.color == "success" and outcome.download.mime == "application/zip"
    # kept in this session's download folder for the route, behind an unguessable token
    folder = download_route.downloads_dir(services.config) / session_hash(SESSION) / outcome.download.token
    assert outcome.download.path == folder / f"stamp_package_{STAMP}.zip"
    assert outcome.download.url.startswith(f"/download/{outcome.download.token}/stamp_package_{STAMP}.zip?k=")
    assert len(outcome.download.token) == 43
    archive = zipfile.ZipFile(outcome.download.path)
    names = set(archive.namelist())
    assert set(package_files(STAMP)) <= names

    # the HTML pages: band buttons of the usable bands, the chosen colour scale and range
    expected_bands = ["All", *(b.name for b in PRESETS[DEFAULT_PRESET])]
    for name in (f"surface_plot_{STAMP}.html", f"heatmap_plot_{STAMP}.html"):
        page = archive.read(name).decode()
        assert band_buttons(page) == expected_bands and "bad" not in band_buttons(page)
        (fig,) = figure_jsons(page)
        assert_colour_axis(fig, "Viridis", (-2.0, 2.0))
    combined = archive.read(f"combined_plots_{STAMP}.html").decode()
    assert band_buttons(combined) == expected_bands and len(figure_jsons(combined)) == 4

    # the table reads back with astropy and holds the cube's light curves
    table = QTable.read(archive.read(f"lightcurves_{STAMP}.ecsv").decode(), format="ascii.ecsv")
    white = cube.white_light()
    assert np.allclose(table["white_light"].value, white.value, equal_nan=True)
    assert table["white_light"].unit == white.unit and len(table) == cube.n_integrations

    readme = archive.read("README.txt").decode()
    assert "colour scale: Viridis" in readme and "colour range: -2–2" in readme
    assert "normalize: median" in readme and "H2O 1.4" in readme
    # progress: every package stage, in order, ending complete; built in a folder under the cache
    stages = [r[0] for r in reports]
    assert stages.index("tables") < stages.index("science") < stages.index("video") < stages.index("zip")
    assert reports[-1][:3] == ("done", 9, 9)
    # the controls are those the cube was made with: the package has the recipe and the science tables
    recipe = archive.read("recipe.py").decode()
    assert "normalization='median'," in recipe and "stamp_engine.load([data / name for name in files])" in recipe
    assert {f"amplitude_spectrum_{STAMP}.ecsv", f"periodogram_white_light_{STAMP}.ecsv", f"spectra_{STAMP}.pdf"} <= names
    assert reports[0][3] and all(name.startswith("stamp-download-") for name in reports[0][3])
    assert leftovers(services.config) == []


def test_processing_options_are_recorded_only_when_they_made_the_cube(tmp_path):
    services = build_services(Config(cache_dir=tmp_path / "cache"))
    outcome = run_job(services, {"kind": "demo"}, {"normalization": "visit", "bin_time": 2}, session=SESSION)
    result = browser_result(outcome.result)
    same = controls(NORMALIZATION="visit", BIN_TIME=2)
    request = exports.export_request(services, result, SESSION, PageState(band_rows=[], raw_options=raw_options(same)))
    assert request.options["normalize"] == "visit" and request.options["bin time"] == 2
    assert request.options["colour scale"] == "automatic" and request.options["colour range"] == "automatic"
    # controls changed after Process: they are not what the data went through
    changed = exports.export_request(services, result, SESSION,
                                     PageState(band_rows=[], raw_options=raw_options(controls())))
    assert changed.options["normalize"] == "visit" and "bin time" not in changed.options
    assert request.cube.n_integrations == changed.cube.n_integrations == 260


# ------------------------------------------------------------------ single files
def test_science_tables_download_with_units_and_how_they_were_made(demo):
    periodogram = download(demo, "periodogram")
    assert periodogram.color == "success" and periodogram.download.filename == f"periodogram_white_light_{STAMP}.ecsv"
    table = QTable.read(periodogram.download.path)
    assert table["period"].unit == "h" and table.meta["product"] == "periodogram"
    amplitude = download(demo, "amplitude")
    assert amplitude.color == "success"
    spectrum = QTable.read(amplitude.download.path)
    # the demo brown dwarf varies with a period of a few hours: the fit is at the periodogram's peak
    assert spectrum.meta["period_hours"] == pytest.approx(table.meta["peak_period_hours"])
    assert spectrum["amplitude"].unit == "%" and np.all(spectrum["amplitude_err"].value > 0)


def test_transit_spectrum_needs_both_windows_and_says_so(demo):
    refused = download(demo, "transit")
    assert refused.download is None and refused.color == "warning"
    assert refused.message == "No transit spectrum (ECSV): no in-transit and baseline windows were chosen."
    half = download(demo, "transit", windows={"in_transit": [1.0, 2.0], "baseline": ["x", None]})
    assert half.download is None and half.color == "warning"
    made = download(demo, "transit", windows={"in_transit": [4.0, 5.0], "baseline": [0.5, 3.0]})
    assert made.color == "success", made.message
    table = QTable.read(made.download.path)
    assert table.meta["in_transit_hours"] == [[4.0, 5.0]] and table.meta["baseline_hours"] == [[0.5, 3.0]]
    assert np.isfinite(table["depth"].value).all()


@pytest.mark.parametrize("kind", ["surface", "heatmap"])
def test_single_html_page_shows_what_the_page_shows(demo, kind):
    outcome = download(demo, kind, colorscale="Plasma", z_min=-1.5, z_max=3)
    assert outcome.download.filename == f"{kind}_plot_{STAMP}.html" in package_files(STAMP)
    page = outcome.download.path.read_text(encoding="utf-8")
    assert band_buttons(page) == ["All", *(b.name for b in PRESETS[DEFAULT_PRESET])]
    (fig,) = figure_jsons(page)
    assert_colour_axis(fig, "Plasma", (-1.5, 3.0))
    assert {t["type"] for t in fig["data"]} == {kind}
    maps = [t for t in fig["data"] if (t.get("meta") or {}).get("role") == "band-map"]
    assert maps and all("CH4 2.3" in [b["name"] for b in t["meta"]["bands"]] for t in maps)
    assert re.search(r"<script[^>]*\ssrc=", page) is None and "Plotly.newPlot" in page  # plotly.js inlined: offline


def test_combined_page_holds_every_view(demo):
    outcome = download(demo, "combined", colorscale=None, z_min=None, z_max=None)
    assert outcome.download.filename == f"combined_plots_{STAMP}.html"
    surface, heatmap, curves, player = figure_jsons(outcome.download.path.read_text(encoding="utf-8"))
    assert surface["layout"]["coloraxis"]["colorscale"] == figures.colorscale("RdBu_r")  # automatic, variability
    assert {t["type"] for t in heatmap["data"]} == {"heatmap"}
    names = [t.get("name") or "" for t in curves["data"]]
    assert any("White light" in n for n in names) and any("H2O 1.4" in n for n in names)
    assert player.get("frames")


def test_light_curve_tables_read_back(demo):
    _, _, cube = demo
    band = PRESETS[DEFAULT_PRESET][0]
    ecsv = download(demo, "ecsv").download
    assert ecsv.filename == f"lightcurves_{STAMP}.ecsv"
    table = QTable.read(ecsv.path)
    curve = cube.light_curve(band)
    column = re.sub(r"[^0-9A-Za-z._-]+", "_", band.name)
    assert np.allclose(table[column].value, curve.value, equal_nan=True)
    assert np.allclose(table[f"{column}_err"].value, curve.error, equal_nan=True)
    assert table["time"].scale == cube.time.scale
    assert np.allclose(table["time"].mjd, cube.time.mjd, rtol=0, atol=1e-9)

    csv = download(demo, "csv").download
    assert csv.filename == f"lightcurves_{STAMP}.csv" and csv.mime == "text/csv"
    assert [p.name for p in csv.path.parent.iterdir()] == [csv.filename]  # the ECSV written alongside stays behind
    text = csv.path.read_text(encoding="utf-8")
    assert text.startswith("# ") and "white_light:" in text
    plain = Table.read(text, format="ascii.csv", comment="#")
    assert np.allclose(plain["white_light"], cube.white_light().value, equal_nan=True)
    assert np.allclose(plain["time"], cube.time.mjd, rtol=0, atol=1e-9)


def test_cube_fits_reads_back_with_its_options(demo):
    _, _, cube = demo
    fits_file = download(demo, "fits").download
    assert fits_file.filename == f"stamp_cube_{STAMP}.fits"
    path = fits_file.path
    back = read_cube_fits(path)
    assert np.array_equal(back.flux, cube.flux, equal_nan=True) and back.time_standard == cube.time_standard
    from astropy.io import fits

    history = "\n".join(str(h) for h in fits.getheader(path)["HISTORY"])
    assert 'option colour scale = "Viridis"' in history and "option normalize" in history


def test_spectrum_video(demo):
    services, _, cube = demo
    seen = []
    outcome = download(demo, "video", report=lambda *r: seen.append(r))
    assert outcome.download.filename == f"spectrum_{STAMP}.mp4" and outcome.download.mime == "video/mp4"
    info = probe_video(outcome.download.path)
    assert (info["width"], info["height"]) == SMALL_VIDEO and info["frames"] == cube.n_integrations
    assert info["codec"] == "h264"
    assert any(stage == "video" and 0 < done < total for stage, done, total in seen)


# ------------------------------------------------------------------ refusals and failures
def test_no_result_or_evicted_or_foreign_ticket_says_so(demo, tmp_path):
    services, result, _ = demo
    none = exports.run_download(services, "ecsv", None, SESSION)
    assert none.download is None and none.message == exports.NO_RESULT and none.color == "warning"
    foreign = exports.run_download(services, "ecsv", result, OTHER_SESSION)
    assert foreign.download is None and foreign.message == exports.EVICTED
    forged = exports.run_download(services, "ecsv", {**result, "ticket": "0" * 32}, SESSION)
    assert forged.message == exports.EVICTED

    fresh = build_services(Config(cache_dir=tmp_path / "cache"))
    mine = browser_result(run_job(fresh, {"kind": "demo"}, {}, session=SESSION).result)
    key = fresh.cubes.redeem(mine["ticket"], SESSION)
    fresh.cubes.cache.disk.delete(key)  # evicted
    evicted = exports.run_download(fresh, "package", mine, SESSION)
    assert evicted.download is None and evicted.message == exports.EVICTED
    assert leftovers(fresh.config) == []


def test_unusable_colour_range_is_refused(demo):
    outcome = download(demo, "surface", z_min=3, z_max=None)
    assert outcome.download is None and outcome.color == "warning"
    assert outcome.message.startswith("Fix the colour range first: Colour range needs both ends")


def test_job_limits_apply(demo):
    services, _, _ = demo
    with services.gate.slot(session_hash(SESSION)), services.gate.slot(session_hash(SESSION)):
        outcome = download(demo, "ecsv")
    assert outcome.download is None and outcome.message.startswith("Not started: this page already runs 2 job(s)")
    assert download(demo, "ecsv").download is not None  # slots freed


def test_each_download_is_one_job_log_line_like_a_processing_job(demo, caplog, monkeypatch):
    import logging

    caplog.set_level(logging.INFO, logger="stamp.jobs")
    assert download(demo, "ecsv").download is not None
    monkeypatch.setattr(catalogue, "write_cube_fits", lambda cube, path, options=None: 1 / 0)
    assert download(demo, "fits").download is None
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "stamp.jobs" and r.levelname == "INFO"]
    assert [(line["event"], line["kind"], line["outcome"]) for line in lines] == [
        ("download", "ecsv", "ok"), ("download", "fits", "error")]
    assert all(line["session"] == session_hash(SESSION) and line["duration_s"] >= 0 for line in lines)
    assert lines[1]["message"].startswith("Could not build the cube FITS file: an unexpected error")
    assert SESSION not in caplog.text  # the session id itself is never logged


def test_failing_export_gives_a_message_and_leaves_nothing(demo, monkeypatch):
    services, _, _ = demo
    folders = []

    def disk_full(cube, path, options=None):
        folders.append(Path(path).parent)
        Path(path).write_bytes(b"partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(catalogue, "write_cube_fits", disk_full)
    outcome = download(demo, "fits")
    assert outcome.download is None and outcome.color == "danger"
    assert outcome.message == "Could not build the cube FITS file: No space left on device"
    assert folders and not folders[0].exists() and leftovers(services.config) == []


def test_unexpected_error_in_the_package_is_a_message_not_a_traceback(demo, monkeypatch):
    services, _, _ = demo
    import stamp_engine.export

    def broken(cube, path, options=None):
        Path(path).write_bytes(b"partial")
        raise RuntimeError("boom")

    monkeypatch.setattr(stamp_engine.export.package, "write_cube_fits", broken)
    outcome = download(demo, "package")
    assert outcome.download is None and outcome.color == "danger"
    assert outcome.message.startswith("Could not build the package: an unexpected error") and "boom" not in outcome.message
    assert leftovers(services.config) == []


def _hold_a_download_folder(cache_dir, ready):
    """In a child process: start a download's folder, write into it, and wait to be killed (Cancel)."""
    import time

    services = build_services(Config(cache_dir=cache_dir))
    with services.scratch.job() as folder:  # where a download builds (dashboard.server.runner)
        (folder / "spectrum_partial.mp4").write_bytes(b"x" * 1000)
        ready.set()
        time.sleep(60)


def test_folder_of_a_cancelled_download_is_swept_by_the_next(demo):
    import multiprocessing

    services, _, _ = demo
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    child = context.Process(target=_hold_a_download_folder, args=(services.config.cache_dir, ready))
    child.start()
    try:
        assert ready.wait(30)
        assert [p.name for p in leftovers(services.config) if p.suffix == ".mp4"] == ["spectrum_partial.mp4"]
    finally:
        child.kill()  # what Cancel does to a background job's process
        child.join()
    assert download(demo, "ecsv").download is not None
    assert leftovers(services.config) == []


# ------------------------------------------------------------------ Dash wiring
def test_progress_text_names_the_stage():
    assert progress_text("package", "video", 50, 200) == (25.0, "Package: Encoding the spectrum video — 25 %")
    assert progress_text("ecsv", "tables", 1, 2)[1] == "Light-curve table (ECSV): Writing light-curve tables — 50 %"
    assert progress_text("fits", "fits", 0, 0)[0] == 0.0


def test_layout_and_callback_register_on_the_app(tmp_path):
    from dashboard.app import create_app

    config = Config(cache_dir=tmp_path / "cache")
    app = create_app(config)
    services = build_services(config)
    if not any(ids.DOWNLOAD_LINK in output for output in app.callback_map):
        downloads.register(app, services)
    card = downloads.layout(services)
    found = {c.id for c in _walk(card) if getattr(c, "id", None)}
    assert set(ids.DOWNLOAD_BUTTONS.values()) <= found
    assert {ids.DOWNLOAD_PROGRESS, ids.DOWNLOAD_CANCEL, ids.DOWNLOAD_LINK} <= found
    (output,) = [o for o in app.callback_map if f"{ids.DOWNLOAD_LINK}.data" in _outputs(o)]
    inputs = {i["id"] for i in app.callback_map[output]["inputs"]}
    assert set(ids.DOWNLOAD_BUTTONS.values()) <= inputs
    # the browser fetches the link the job returns (clientside); the link's signed key is the only proof
    (fetch,) = [o for o in app.callback_map if _outputs(o) == [f"{ids.DOWNLOAD_STARTED}.data"]]
    assert [i["id"] for i in app.callback_map[fetch]["inputs"]] == [ids.DOWNLOAD_LINK]
    assert app.callback_map[fetch]["state"] == []
    (clientside,) = [c for c in app._callback_list if c["output"] == f"{ids.DOWNLOAD_STARTED}.data"]
    assert clientside["clientside_function"] == {"namespace": "stampDownloads", "function_name": "fetchLink"}
    script = (REPO / "assets" / "stamp_downloads.js").read_text(encoding="utf-8")
    assert "stampDownloads" in script and "fetchLink" in script and "cookie" not in script


def _outputs(key: str) -> list[str]:
    """Dash's callback_map key → its outputs ("..a.data...b.children.." for several)."""
    return key.strip(".").split("...")


def _walk(component):
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and hasattr(child, "to_plotly_json"):
            yield from _walk(child)


# ------------------------------------------------------------------ the route that streams built files
PREFIX = "/stamp/"


def with_route(app):
    """``app`` with the download route, whether or not dashboard.app registers it already."""
    if download_route.ENDPOINT not in app.server.view_functions:
        download_route.register(app.server, app.server.extensions["stamp_services"])
    return app


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """An app under a URL prefix with the package built for SESSION; (app, services, outcome)."""
    from dashboard.app import create_app

    app = with_route(create_app(Config(cache_dir=tmp_path_factory.mktemp("route") / "cache", url_prefix=PREFIX)))
    services = app.server.extensions["stamp_services"]
    result = browser_result(run_job(services, {"kind": "demo"}, {}, session=SESSION).result)
    outcome = exports.run_download(services, "package", result, SESSION,
                                   PageState(band_rows=bands_rows(), raw_options=raw_options(controls())),
                                   video_size=SMALL_VIDEO, when=WHEN)
    assert outcome.download is not None, outcome.message
    return app, services, outcome


def fetch(app, url, session=SESSION, **kwargs):
    """GET a download link as published for SESSION, or re-signed for ``session`` (None: without its key)."""
    client = app.server.test_client()
    if session != SESSION:
        base = url.partition("?k=")[0]
        token = base.split("/")[-2]
        config = app.server.extensions["stamp_services"].config
        key = download_route._signer(config).dumps([token, session_hash(session)]) if session else ""
        url = base if session is None else f"{base}?k={key}"
    return client.get(url, **kwargs)


def test_route_streams_the_package_to_its_session(served):
    app, _, outcome = served
    url = outcome.download.url
    assert url.startswith(f"{PREFIX}download/{outcome.download.token}/stamp_package_{STAMP}.zip?k=")
    expected = outcome.download.path.read_bytes()
    assert len(expected) > 1_000_000  # mostly the float64 cube FITS and the video
    response = fetch(app, url)
    assert response.status_code == 200 and response.data == expected
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"] == f"attachment; filename=stamp_package_{STAMP}.zip"
    assert response.headers["X-Content-Type-Options"] == "nosniff"  # the app's headers apply here too
    assert "no-store" in response.headers["Cache-Control"]
    # conditional and ranged: a resumed or repeated download is answered without resending everything
    again = fetch(app, url, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    part = fetch(app, url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.data == expected[10:20]
    assert outcome.download.path.is_file()  # still there for a retry until the token expires


def test_route_streams_the_cube_fits(served, tmp_path):
    app, services, package = served
    result = browser_result(run_job(services, {"kind": "demo"}, {}, session=SESSION).result)
    outcome = exports.run_download(services, "fits", result, SESSION, when=WHEN)
    assert outcome.download.token != package.download.token
    response = fetch(app, outcome.download.url)
    assert response.status_code == 200 and response.mimetype == "application/fits"
    path = tmp_path / outcome.download.filename
    path.write_bytes(response.data)
    back = read_cube_fits(path)
    assert np.array_equal(back.flux, services.cubes.processed(services.cubes.redeem(result["ticket"], SESSION)).flux,
                          equal_nan=True)


@pytest.mark.parametrize("session", [OTHER_SESSION, None, "", "x" * 200])
def test_route_refuses_another_session(served, session):
    app, _, outcome = served
    assert fetch(app, outcome.download.url, session=session).status_code == 404
    assert outcome.download.path.is_file()


def test_route_refuses_forged_expired_and_wrong_files(served):
    app, services, outcome = served
    token, name = outcome.download.token, outcome.download.filename
    key = "?k=" + outcome.download.url.partition("?k=")[2]
    forged = ("A" * 43, secrets.token_urlsafe(32), token[:-1], token + "A", token.swapcase())
    for bad in forged:
        assert fetch(app, f"{PREFIX}download/{bad}/{name}{key}").status_code == 404
    for other in (f"stamp_cube_{STAMP}.fits", "README.txt", name.replace(".zip", ".html"), name + ".zip"):
        assert fetch(app, f"{PREFIX}download/{token}/{other}{key}").status_code == 404
    assert fetch(app, f"/download/{token}/{name}{key}").status_code == 404  # routes live under the prefix only
    assert fetch(app, f"{PREFIX}download/{token}/{name}{key[:-3]}abc").status_code == 404  # a tampered key

    # an hour later the token is refused (and the folder stays until STAMP_UPLOAD_TTL_HOURS)
    folder = outcome.download.path.parent
    stat = folder.stat()
    os.utime(folder, (stat.st_atime, time.time() - download_route.TOKEN_TTL_S - 60))
    try:
        assert fetch(app, outcome.download.url).status_code == 404
        assert outcome.download.path.is_file()
    finally:
        os.utime(folder, (stat.st_atime, stat.st_mtime))
    assert fetch(app, outcome.download.url).status_code == 200


def test_route_cannot_reach_outside_the_download_folder(served, tmp_path):
    app, services, outcome = served
    token, name = outcome.download.token, outcome.download.filename
    secret = services.config.cache_dir / "secret.csv"
    secret.write_text("do not serve")
    tricks = [
        f"{PREFIX}download/{token}/..%2F..%2F..%2Fsecret.csv",
        f"{PREFIX}download/{token}/%2E%2E%2Fsecret.csv",
        f"{PREFIX}download/{token}/../../secret.csv",
        f"{PREFIX}download/..%2F{token}/{name}",
        f"{PREFIX}download/{token}%2F..%2F{token}/{name}",
        f"{PREFIX}download/{token}/{name}%00.csv",
        f"{PREFIX}download/{token}/{name}/",
        f"{PREFIX}download/{token}/.%2E/{name}",
        f"{PREFIX}download/{session_hash(SESSION)}/{token}/{name}",
    ]
    key = "?k=" + outcome.download.url.partition("?k=")[2]  # the genuine key: only the path is forged
    for url in tricks:
        response = fetch(app, url + key, session=SESSION)
        assert response.status_code == 404, url
        assert b"do not serve" not in response.data
    # a link planted in a token folder (any file name the route accepts) is not followed
    planted = outcome.download.path.parent / "lightcurves_20250304_050607.csv"
    planted.symlink_to(secret)
    try:
        response = fetch(app, f"{PREFIX}download/{token}/{planted.name}{key}")
        assert response.status_code == 404 and b"do not serve" not in response.data
    finally:
        planted.unlink()


def test_callback_response_holds_a_link_not_the_file(served):
    """What the background job returns (job store, callback response, browser memory) stays small."""
    import plotly

    _, _, outcome = served
    link, alert = downloads.job_outputs(outcome)
    response = json.dumps({"link": link, "message": alert}, cls=plotly.utils.PlotlyJSONEncoder)
    assert outcome.download.size > 1_000_000 and len(response) < 10_000
    assert link == {"url": outcome.download.url, "filename": outcome.download.filename, "token": outcome.download.token}
    failed = downloads.job_outputs(exports.DownloadOutcome(message="Could not build the package: boom"))
    assert failed[0] is no_update and failed[1].children == "Could not build the package: boom"


def test_stale_download_folders_are_removed(tmp_path):
    config = Config(cache_dir=tmp_path / "cache", upload_ttl_hours=2)
    built = []
    for i in range(2):
        path = tmp_path / f"lightcurves_2025030{i}_000000.csv"
        path.write_text(f"table {i}")
        built.append(download_route.publish(config, SESSION if i else OTHER_SESSION, path))
    old, new = built
    os.utime(old.path.parent, (time.time(), time.time() - 3 * 3600))
    assert download_route.prune(config) == [old.path.parent]
    assert not old.path.parent.parent.exists()  # the other session's folder, now empty, is gone too
    assert new.path.read_text() == "table 1"
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not a download file name"):
        download_route.publish(config, SESSION, tmp_path / "notes.txt")  # a name the route would refuse


def test_route_is_behind_access_control(tmp_path):
    from dashboard.app import create_app

    config = Config(cache_dir=tmp_path / "cache", demo_path=None, basic_auth=(("carol", "pw"),))
    app = with_route(create_app(config))
    path = tmp_path / "lightcurves_20250304_050607.csv"
    path.write_text("time,flux\n")
    published = download_route.publish(config, SESSION, path)
    assert fetch(app, published.url).status_code == 401
    import base64

    good = {"Authorization": "Basic " + base64.b64encode(b"carol:pw").decode()}
    response = fetch(app, published.url, headers=good)
    assert response.status_code == 200 and response.data == b"time,flux\n" and response.mimetype == "text/csv"
    assert fetch(app, published.url, session=OTHER_SESSION, headers=good).status_code == 404
