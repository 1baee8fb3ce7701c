"""Hostile and broken inputs through the engine and through the dashboard's upload → job path.

Every case must give a clear message naming the file (or load correctly when the
file is still usable), never a traceback, and the server must keep working: the
next job on good data succeeds.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from astropy.io import fits

from dashboard.app import create_app
from tests.helpers.dashboard_client import CallbackFailed, DashClient, flask_transport
from dashboard.server.config import Config
from dashboard.features.views import summary_table
from dashboard.jobs import run_job
from dashboard.server.services import build_services
from stamp_engine import load
from stamp_engine.export import standalone_html
from stamp_engine.figures import heatmap_figure
from stamp_engine.problems import NoUsableData
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.eureka import write_eureka_s3
from stamp_engine.synthetic.x1dints import write_segments
from tests.helpers.upload_helpers import upload_files

SESSION = "5e55" * 8
EVIL = "</script><script>alert('stamp')</script><img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    """Good files and every hostile case, written with the synthetic writers."""
    root = tmp_path_factory.mktemp("hostile")
    obs = make_observation(kind="transit", n_integrations=40, wavelength=np.linspace(1.0, 4.0, 30), seed=1,
                           meta={"target": EVIL})
    files: dict[str, Path] = {}
    files["good_new"] = write_segments(root / "new", obs, n_segments=1)[0]
    files["good_old"] = write_segments(root / "old", obs, n_segments=1, layout="old")[0]
    raw = files["good_new"].read_bytes()
    (root / "truncated_x1dints.fits").write_bytes(raw[: len(raw) // 2])
    files["truncated"] = root / "truncated_x1dints.fits"
    with fits.open(files["good_old"]) as hdus:
        fits.HDUList([h.copy() for h in hdus if h.name != "INT_TIMES"]).writeto(root / "noints_old_x1dints.fits")
        shorter = fits.HDUList([h.copy() for h in hdus])
        shorter["INT_TIMES"] = fits.BinTableHDU(hdus["INT_TIMES"].data[:10], header=hdus["INT_TIMES"].header,
                                                name="INT_TIMES")
        shorter.writeto(root / "short_times_old_x1dints.fits")
    files["no_int_times"] = root / "noints_old_x1dints.fits"
    files["short_int_times"] = root / "short_times_old_x1dints.fits"
    with fits.open(files["good_new"]) as hdus:
        nan = fits.HDUList([h.copy() for h in hdus])
        nan["EXTRACT1D"].data["FLUX"][:] = np.nan
        nan.writeto(root / "allnan_x1dints.fits")
    files["all_nan"] = root / "allnan_x1dints.fits"
    (root / "page.fits").write_bytes(b"<!DOCTYPE html><html><body>Sign in to MAST</body></html>")
    files["not_fits"] = root / "page.fits"
    (root / "random.fits").write_bytes(np.random.default_rng(0).bytes(5000))
    files["random_bytes"] = root / "random.fits"
    (root / "empty.fits").write_bytes(b"")
    files["zero_bytes"] = root / "empty.fits"
    with zipfile.ZipFile(root / "traversal.zip", "w") as archive:
        archive.writestr("../../outside_x1dints.fits", raw)
    files["zip_traversal"] = root / "traversal.zip"
    with zipfile.ZipFile(root / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("huge_x1dints.fits", bytes(60 * 2**20))
    files["zip_bomb"] = root / "bomb.zip"
    zipfile.ZipFile(root / "empty.zip", "w").close()
    files["zip_empty"] = root / "empty.zip"
    eureka = root / "good_SpecData.h5"
    write_eureka_s3(eureka, obs)
    files["good_eureka"] = eureka
    with h5py.File(eureka) as source, h5py.File(root / "nospec_SpecData.h5", "w") as target:
        for key in source:
            if key not in ("optspec", "stdspec"):
                source.copy(key, target)
    files["hdf5_missing"] = root / "nospec_SpecData.h5"
    return files


#: case → words the message must contain (besides the file name).
REFUSED = {
    "truncated": "truncated",
    "all_nan": "NaN",
    "not_fits": "HTML page",
    "random_bytes": "neither FITS nor HDF5",
    "zero_bytes": "empty (0 bytes)",
    "zip_traversal": "path traversal",
    "zip_bomb": "ZIP bomb",
    "zip_empty": "empty ZIP",
    "hdf5_missing": "missing flux",
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_engine_names_the_file_and_the_problem(corpus, case):
    path = corpus[case]
    with pytest.raises(NoUsableData) as caught:
        load([path])
    (problem,) = caught.value.problems
    assert problem.source == path.name and REFUSED[case] in problem.message
    assert "Traceback" not in str(caught.value) and path.name in str(caught.value)


def test_nothing_escapes_the_archive_folder(corpus, tmp_path):
    with pytest.raises(NoUsableData):
        load([corpus["zip_traversal"]])
    assert not list(corpus["zip_traversal"].parent.parent.glob("outside_x1dints.fits"))
    assert not list(Path("/tmp").glob("outside_x1dints.fits"))


@pytest.mark.parametrize("case", ["no_int_times", "short_int_times"])
def test_missing_or_short_int_times_still_give_correct_times(corpus, case):
    cube = load([corpus[case]])
    reference = load([corpus["good_new"]])
    assert cube.n_integrations == 40 and cube.n_wavelengths == 30
    # times agree with the complete file to well under one integration (60 s)
    # (the old layout also carries each integration's times in its spectrum headers)
    assert np.nanmax(np.abs(cube.hours - reference.hours)) < 60 / 3600
    assert cube.time_standard == reference.time_standard == "BJD_TDB"


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_dashboard_job_reports_the_file_and_keeps_working(corpus, tmp_path, case):
    config = Config(cache_dir=tmp_path / "cache", demo_path=None)
    services = build_services(config)
    path = corpus[case]
    descriptor = upload_files(config, SESSION, [path])
    outcome = run_job(services, descriptor, {}, session=SESSION)
    assert outcome.result is None and outcome.message.startswith("No usable time-series spectra")
    assert [p["source"] for p in outcome.problems] == [path.name]
    assert REFUSED[case] in outcome.problems[0]["message"]
    good = corpus["good_eureka"]
    after = run_job(services, upload_files(config, SESSION, [good]), {}, session=SESSION)
    assert after.result is not None and after.message is None


def test_html_in_targname_is_text_in_the_summary_and_in_exported_html(corpus, tmp_path):
    config = Config(cache_dir=tmp_path / "cache", demo_path=None)
    services = build_services(config)
    path = corpus["good_new"]
    outcome = run_job(services, upload_files(config, SESSION, [path]), {}, session=SESSION)
    rows = dict(outcome.result["summary"])
    assert rows["Target"] == EVIL
    # The summary card holds the value as a plain text child: React renders it as text, never as markup.
    table = summary_table(outcome.result["summary"]).to_plotly_json()
    cells = [row.children[1] for row in table["props"]["children"]]
    target_cell = next(c for c in cells if c.children == EVIL)
    assert isinstance(target_cell.children, str) and type(target_cell).__name__ == "Td"
    assert "dangerously_allow_html" not in json.dumps(table, default=str)
    # Exported HTML: escaped in the page and inside the embedded figure JSON.
    cube = services.cubes.processed(outcome.result["key"])
    fig = heatmap_figure(cube)
    fig.update_layout(title=cube.target)
    html = standalone_html(fig, [], cube.target)
    assert EVIL not in html and "<script>alert(" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(" in html


def test_hostile_uploads_through_http_leave_the_server_up(corpus, tmp_path):
    app = create_app(Config(cache_dir=tmp_path / "cache", demo_path=None, max_upload_mb=1))
    http = app.server.test_client()
    client = DashClient(flask_transport(http))
    session = client.store("session-id")
    for case in ("not_fits", "zip_traversal", "truncated"):
        path = corpus[case]
        descriptor = client.upload([path], session)
        answer = client.call("job-result.data", {"dataset.data": descriptor["dataset"]["data"],
                                                 "session-id.data": session}, changed=["dataset.data"])
        shown = json.dumps(answer["problems"]["children"])
        assert path.name in shown and REFUSED[case] in shown
        assert "No usable time-series spectra" in json.dumps(answer["job-message"]["children"])
    # A huge request is refused from its Content-Length (413), with the limit named.
    huge = http.post("/_dash-update-component", data=b"{" + b" " * (9 * 2**20) + b"}",
                     content_type="application/json")
    assert huge.status_code == 413 and "9 MB" in huge.get_json()["error"]
    # A forged "upload finished" naming no upload of this page.
    refused = client.call("upload-message.children", {"upload-done.data": {"upload": "0" * 32},
                                                      "session-id.data": session})
    assert "Upload refused: this upload is not on the server" in json.dumps(refused)
    big = tmp_path / "big.fits"
    big.write_bytes(bytes(2**20 + 2**19))
    with pytest.raises(CallbackFailed, match="big.fits is 1.5 MB; the limit is 1 MB"):
        client.upload([big], session)
    # …and the server still serves pages and jobs.
    assert http.get("/healthz").get_json() == {"status": "ok"} and http.get("/").status_code == 200
    good = corpus["good_eureka"]
    descriptor = client.upload([good], session)
    answer = client.call("job-result.data", {"dataset.data": descriptor["dataset"]["data"], "session-id.data": session},
                         changed=["dataset.data"])
    assert answer["job-result"]["data"]["ticket"]
