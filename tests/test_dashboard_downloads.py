"""The dashboard's downloads without a browser: what each button builds, from the demo cube."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from astropy.table import QTable, Table

from dashboard import ids
from dashboard.band_rows import preset_rows
from dashboard.cache import session_hash
from dashboard.config import Config
from dashboard.features import downloads
from dashboard.features.bands import DEFAULT_PRESET
from dashboard.features.controls import PROCESS_ORDER
from dashboard.features.job import browser_result
from dashboard.jobs import run_job
from dashboard.services import build_services
from stamp_engine import figures
from stamp_engine.bands import PRESETS
from stamp_engine.export import package_files, read_cube_fits
from stamp_engine.video import probe_video

SESSION = "0123456789abcdef0123456789abcdef"
OTHER_SESSION = "fedcba9876543210fedcba9876543210"
WHEN = dt.datetime(2025, 3, 4, 5, 6, 7)
STAMP = "20250304_050607"
SMALL_VIDEO = (320, 240)

#: The processing controls as the page starts (the values run_job's defaults correspond to).
DEFAULT_CONTROLS = {
    ids.N_INTEGRATIONS: 0, ids.GAP_HOURS: 0.5, ids.BASELINE_START: None, ids.BASELINE_END: None,
    ids.WAVE_MIN: None, ids.WAVE_MAX: None, ids.TIME_MIN: None, ids.TIME_MAX: None,
    ids.SIGMA_TIME: 0, ids.SIGMA_WAVE: 0, ids.BIN_TIME: 1, ids.BIN_WAVE: 1,
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
    settings = dict(colorscale="Viridis", z_min=-2, z_max=2, band_rows=bands_rows(), process_values=controls(),
                    video_size=SMALL_VIDEO, when=WHEN)
    settings.update(kwargs)
    return downloads.run_download(services, kind, result, SESSION, **settings)


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
    assert outcome.message == f"Sent stamp_package_{STAMP}.zip ({outcome.message.split('(')[1]}"
    assert outcome.color == "success" and outcome.download.mime == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(outcome.download.content))
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
    assert stages.index("tables") < stages.index("video") < stages.index("zip") and reports[-1][:3] == ("done", 8, 8)
    assert reports[0][3] and all(name.startswith("stamp-download-") for name in reports[0][3])
    assert leftovers(services.config) == []


def test_processing_options_are_recorded_only_when_they_made_the_cube(tmp_path):
    services = build_services(Config(cache_dir=tmp_path / "cache"))
    outcome = run_job(services, {"kind": "demo"}, {"normalization": "visit", "bin_time": 2}, session=SESSION)
    result = browser_result(outcome.result)
    same = controls(NORMALIZATION="visit", BIN_TIME=2)
    request = downloads.export_request(services, result, SESSION, band_rows=[], process_values=same)
    assert request.options["normalize"] == "visit" and request.options["bin time"] == 2
    assert request.options["colour scale"] == "automatic" and request.options["colour range"] == "automatic"
    # controls changed after Process: they are not what the data went through
    changed = downloads.export_request(services, result, SESSION, band_rows=[], process_values=controls())
    assert changed.options["normalize"] == "visit" and "bin time" not in changed.options
    assert request.cube.n_integrations == changed.cube.n_integrations == 260


# ------------------------------------------------------------------ single files
@pytest.mark.parametrize("kind", ["surface", "heatmap"])
def test_single_html_page_shows_what_the_page_shows(demo, kind):
    outcome = download(demo, kind, colorscale="Plasma", z_min=-1.5, z_max=3)
    assert outcome.download.filename == f"{kind}_plot_{STAMP}.html" in package_files(STAMP)
    page = outcome.download.content.decode()
    assert band_buttons(page) == ["All", *(b.name for b in PRESETS[DEFAULT_PRESET])]
    (fig,) = figure_jsons(page)
    assert_colour_axis(fig, "Plasma", (-1.5, 3.0))
    assert {t["type"] for t in fig["data"]} == {kind}
    pieces = [t for t in fig["data"] if (t.get("meta") or {}).get("role") == "band-piece"]
    assert any("CH4 2.3" in t["meta"]["bands"] for t in pieces)
    assert re.search(r"<script[^>]*\ssrc=", page) is None and "Plotly.newPlot" in page  # plotly.js inlined: offline


def test_combined_page_holds_every_view(demo):
    outcome = download(demo, "combined", colorscale=None, z_min=None, z_max=None)
    assert outcome.download.filename == f"combined_plots_{STAMP}.html"
    surface, heatmap, curves, player = figure_jsons(outcome.download.content.decode())
    assert surface["layout"]["coloraxis"]["colorscale"] == figures.colorscale("RdBu_r")  # automatic, variability
    assert {t["type"] for t in heatmap["data"]} == {"heatmap"}
    names = [t.get("name") or "" for t in curves["data"]]
    assert any("White light" in n for n in names) and any("H2O 1.4" in n for n in names)
    assert player.get("frames")


def test_light_curve_tables_read_back(demo, tmp_path):
    _, _, cube = demo
    band = PRESETS[DEFAULT_PRESET][0]
    ecsv = download(demo, "ecsv").download
    assert ecsv.filename == f"lightcurves_{STAMP}.ecsv"
    path = tmp_path / ecsv.filename
    path.write_bytes(ecsv.content)
    table = QTable.read(path)
    curve = cube.light_curve(band)
    column = re.sub(r"[^0-9A-Za-z._-]+", "_", band.name)
    assert np.allclose(table[column].value, curve.value, equal_nan=True)
    assert np.allclose(table[f"{column}_err"].value, curve.error, equal_nan=True)
    assert table["time"].scale == cube.time.scale
    assert np.allclose(table["time"].mjd, cube.time.mjd, rtol=0, atol=1e-9)

    csv = download(demo, "csv").download
    assert csv.filename == f"lightcurves_{STAMP}.csv" and csv.mime == "text/csv"
    text = csv.content.decode()
    assert text.startswith("# ") and "white_light:" in text
    plain = Table.read(text, format="ascii.csv", comment="#")
    assert np.allclose(plain["white_light"], cube.white_light().value, equal_nan=True)
    assert np.allclose(plain["time"], cube.time.mjd, rtol=0, atol=1e-9)


def test_cube_fits_reads_back_with_its_options(demo, tmp_path):
    _, _, cube = demo
    fits_file = download(demo, "fits").download
    assert fits_file.filename == f"stamp_cube_{STAMP}.fits"
    path = tmp_path / fits_file.filename
    path.write_bytes(fits_file.content)
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
    path = services.config.cache_dir / "check.mp4"
    path.write_bytes(outcome.download.content)
    try:
        info = probe_video(path)
    finally:
        path.unlink()
    assert (info["width"], info["height"]) == SMALL_VIDEO and info["frames"] == cube.n_integrations
    assert info["codec"] == "h264"
    assert any(stage == "video" and 0 < done < total for stage, done, total in seen)


# ------------------------------------------------------------------ refusals and failures
def test_no_result_or_evicted_or_foreign_ticket_says_so(demo, tmp_path):
    services, result, _ = demo
    none = downloads.run_download(services, "ecsv", None, SESSION)
    assert none.download is None and none.message == downloads.NO_RESULT and none.color == "warning"
    foreign = downloads.run_download(services, "ecsv", result, OTHER_SESSION)
    assert foreign.download is None and foreign.message == downloads.EVICTED
    forged = downloads.run_download(services, "ecsv", {**result, "ticket": "0" * 32}, SESSION)
    assert forged.message == downloads.EVICTED

    fresh = build_services(Config(cache_dir=tmp_path / "cache"))
    mine = browser_result(run_job(fresh, {"kind": "demo"}, {}, session=SESSION).result)
    key = fresh.cubes.redeem(mine["ticket"], SESSION)
    fresh.cubes.cache.disk.delete(key)  # evicted
    evicted = downloads.run_download(fresh, "package", mine, SESSION)
    assert evicted.download is None and evicted.message == downloads.EVICTED
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


def test_failing_export_gives_a_message_and_leaves_nothing(demo, monkeypatch):
    services, _, _ = demo
    folders = []

    def disk_full(cube, path, options=None):
        folders.append(Path(path).parent)
        Path(path).write_bytes(b"partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(downloads, "write_cube_fits", disk_full)
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

    monkeypatch.setattr(stamp_engine.export, "write_cube_fits", broken)
    outcome = download(demo, "package")
    assert outcome.download is None and outcome.color == "danger"
    assert outcome.message.startswith("Could not build the package: an unexpected error") and "boom" not in outcome.message
    assert leftovers(services.config) == []


def _hold_a_download_folder(cache_dir, ready):
    """In a child process: start a download's folder, write into it, and wait to be killed (Cancel)."""
    import time

    services = build_services(Config(cache_dir=cache_dir))
    with downloads.export_folder(services) as folder:
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
    assert downloads.progress_update("package", "video", 50, 200) == (25.0, "Package: Encoding the spectrum video — 25 %")
    assert downloads.progress_update("ecsv", "tables", 1, 2)[1] == "Light-curve table (ECSV): Writing light-curve tables — 50 %"
    assert downloads.progress_update("fits", "fits", 0, 0)[0] == 0.0


def test_layout_and_callback_register_on_the_app(tmp_path):
    from dashboard.app import create_app

    config = Config(cache_dir=tmp_path / "cache")
    app = create_app(config)
    services = build_services(config)
    if not any(downloads.DOWNLOAD_SEND in output for output in app.callback_map):
        downloads.register(app, services)
    card = downloads.layout(services)
    found = {c.id for c in _walk(card) if getattr(c, "id", None)}
    assert {e.button for e in downloads.EXPORTS.values()} <= found
    assert {downloads.DOWNLOAD_PROGRESS, downloads.DOWNLOAD_CANCEL, downloads.DOWNLOAD_SEND} <= found
    (output,) = [o for o in app.callback_map if downloads.DOWNLOAD_SEND in o]
    inputs = {i["id"] for i in app.callback_map[output]["inputs"]}
    assert {e.button for e in downloads.EXPORTS.values()} <= inputs


def _walk(component):
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and hasattr(child, "to_plotly_json"):
            yield from _walk(child)
