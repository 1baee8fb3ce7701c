"""New data reach the first view in one plain request when they are small or already loaded.

The open_view callback (dashboard/features/job.py) answers a page's new dataset with the
job's result AND the heatmap in the same response: no background job (its worker start
and progress polls), no chain of callbacks before the heatmap is asked for.  Larger data
(and data chosen while a job runs) go to the background job through FIRST_JOB.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from tests.helpers.dashboard_client import DashClient, flask_transport

from dashboard import ids
from dashboard.app import create_app
from dashboard.band_rows import preset_rows
from dashboard.features import job
from dashboard.features.bands import DEFAULT_PRESET
from dashboard.server.config import Config
from stamp_engine.io.containers import declared_bytes
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.eureka import write_eureka_s3

OPEN = f"{ids.FIRST_JOB}.data"  # only open_view writes it


@pytest.fixture
def page(tmp_path):
    obs = make_observation(kind="variability", n_integrations=30, wavelength=np.linspace(1.0, 4.0, 40), seed=3)
    path = tmp_path / "small_SpecData.h5"
    write_eureka_s3(path, obs)
    app = create_app(Config(cache_dir=tmp_path / "cache", demo_path=None))
    client = DashClient(flask_transport(app.server.test_client()))
    session = client.store(ids.SESSION)
    descriptor = client.upload([path], session)[ids.DATASET]["data"]
    return client, session, descriptor


def _open(client, session, descriptor, *, running=False, bands=None):
    """open_view as a page calls it; ``bands`` what its band editor holds (None: a fresh page)."""
    return client.call(OPEN, {f"{ids.SESSION}.data": session, f"{ids.DATASET}.data": descriptor,
                              f"{ids.TABS}.active_tab": ids.TAB_HEATMAP, f"{ids.PROCESS}.disabled": running,
                              f"{ids.BAND_TABLE}.data": preset_rows(DEFAULT_PRESET), f"{ids.BANDS}.data": bands},
                       changed=[f"{ids.DATASET}.data"])


def _bands_for(client, session, result):
    """The bands the band editor holds once it has seen ``result``."""
    answer = client.call(f"{ids.BANDS}.data", {f"{ids.RESULT}.data": result, f"{ids.SESSION}.data": session,
                                               f"{ids.BAND_TABLE}.data": preset_rows(DEFAULT_PRESET)},
                         changed=[f"{ids.RESULT}.data"])
    return answer[ids.BANDS]["data"]


def _heatmap_again(client, session, result, bands, drawn) -> dict:
    """The heatmap callback as the page then calls it (the result and the bands arrived)."""
    return client.call(f"{ids.HEATMAP}.figure", {f"{ids.TABS}.active_tab": ids.TAB_HEATMAP,
                                                 f"{ids.RESULT}.data": result,
                                                 f"{ids.SESSION}.data": session, f"{ids.BANDS}.data": bands,
                                                 f"{ids.DRAWN[ids.HEATMAP]}.data": drawn},
                       changed=[f"{ids.RESULT}.data"])


def test_a_small_upload_comes_back_with_its_heatmap_in_one_answer(page):
    client, session, descriptor = page
    answer = _open(client, session, descriptor)
    assert ids.FIRST_JOB not in answer  # no background job was asked for
    result = answer[ids.RESULT]["data"]
    assert result["dataset"] == descriptor and len(result["ticket"]) == 32
    # A fresh page's band editor refits its preset to the new data: the heatmap comes in the same
    # answer, drawn with the refitted bands, and the heatmap callback, once the page holds them,
    # finds it drawn: nothing sent again.
    bands = _bands_for(client, session, result)
    assert bands
    for opened in (answer, _open(client, session, descriptor, bands=bands)):  # fresh page, then a reload
        figure = opened[ids.HEATMAP]["figure"]
        assert [trace["type"] for trace in figure["data"]] == ["heatmap"]
        assert [b["name"] for b in figure["data"][0]["meta"]["bands"]] == [b["name"] for b in bands]
        assert _heatmap_again(client, session, opened[ids.RESULT]["data"], bands,
                              opened[ids.DRAWN[ids.HEATMAP]]["data"]) == {}


def test_the_same_view_of_the_same_cube_is_read_back_not_built_again(page, monkeypatch):
    from dashboard.features import views

    client, session, descriptor = page
    built = []
    plain = views.grid_figure
    monkeypatch.setattr(views, "grid_figure", lambda *a, **k: built.append(a[3]) or plain(*a, **k))
    first = _open(client, session, descriptor)[ids.HEATMAP]["figure"]
    again = _open(client, session, descriptor)[ids.HEATMAP]["figure"]  # another page: another ticket
    assert built == ["heatmap"] and again["data"] == first["data"]
    assert again["layout"]["meta"]["result"] != first["layout"]["meta"]["result"]  # each tagged with its result
    answer = client.call(OPEN, {f"{ids.SESSION}.data": session, f"{ids.DATASET}.data": descriptor,
                                f"{ids.TABS}.active_tab": ids.TAB_HEATMAP, f"{ids.PROCESS}.disabled": False,
                                f"{ids.BAND_TABLE}.data": preset_rows(DEFAULT_PRESET), f"{ids.COLORSCALE}.value": "Viridis"},
                         changed=[f"{ids.DATASET}.data"])
    assert built == ["heatmap", "heatmap"]  # other options: built
    assert answer[ids.HEATMAP]["figure"]["layout"]["coloraxis"]["colorscale"] != first["layout"]["coloraxis"]["colorscale"]


def test_the_summary_of_a_cube_read_before_is_read_back_and_says_what_is_shown(page, monkeypatch):
    from dashboard import jobs

    client, session, descriptor = page
    scanned = []
    plain = jobs.summarize
    monkeypatch.setattr(jobs, "summarize", lambda cube, *a: scanned.append(cube.n_integrations) or plain(cube, *a))
    first = _open(client, session, descriptor)[ids.RESULT]["data"]["summary"]
    again = _open(client, session, descriptor)[ids.RESULT]["data"]["summary"]  # another page, the same cube
    assert scanned == [30] and again == first
    labels = [label for label, _ in first]
    assert "Noisy channels" in labels and labels[-1] == "Shown"
    answer = client.call(OPEN, {f"{ids.SESSION}.data": session, f"{ids.DATASET}.data": descriptor,
                                f"{ids.TABS}.active_tab": ids.TAB_HEATMAP, f"{ids.PROCESS}.disabled": False,
                                f"{ids.BAND_TABLE}.data": preset_rows(DEFAULT_PRESET), f"{ids.BIN_TIME}.value": 2},
                         changed=[f"{ids.DATASET}.data"])
    binned = answer[ids.RESULT]["data"]["summary"]
    assert scanned == [30]  # the same loaded cube: its rows read back …
    assert binned[:-1] == first[:-1] and binned[-1] != first[-1]  # … and what is shown says the new binning


def test_larger_data_go_to_the_background_job_and_then_open_from_the_cache(page, monkeypatch):
    client, session, descriptor = page
    monkeypatch.setattr(job, "PLAIN_REQUEST_MAX_BYTES", 100)
    answer = _open(client, session, descriptor)
    assert set(answer) == {ids.FIRST_JOB, ids.DATASET_LABEL} and answer[ids.FIRST_JOB]["data"]["dataset"] == descriptor
    assert "not processed yet" in str(answer[ids.DATASET_LABEL]["children"])  # until the job's answer
    # the background job reads them once; afterwards they are loaded in the cube cache
    result = client.call(f"{ids.RESULT}.data", {f"{ids.DATASET}.data": descriptor,
                                                f"{ids.SESSION}.data": session})[ids.RESULT]["data"]
    answer = _open(client, session, descriptor, bands=_bands_for(client, session, result))
    assert ids.FIRST_JOB not in answer and answer[ids.HEATMAP]["figure"]["data"][0]["type"] == "heatmap"


def test_small_or_processed_data_open_in_the_request_process_and_the_rest_in_a_budgeted_child(page, monkeypatch):
    """No fork and pickled answer for what needs no budget: small data (read by the engine's
    sandboxed reader child anyway) and data whose display cube is in the cube cache already.
    A large cube loaded in the cache but processed with new options keeps the job budget."""
    from dashboard.server import runner

    client, session, descriptor = page
    children = []
    in_budget = runner.run_in_budget
    monkeypatch.setattr(runner, "run_in_budget", lambda *a, **k: children.append(1) or in_budget(*a, **k))
    first = _open(client, session, descriptor)
    assert first[ids.RESULT]["data"]["ticket"] and children == []  # small: in this process
    monkeypatch.setattr(job, "PLAIN_REQUEST_MAX_BYTES", 100)  # now "large", loaded in the cube cache
    again = _open(client, session, descriptor)
    assert ids.FIRST_JOB not in again and children == []  # nothing to compute: in this process
    smoothed = client.call(OPEN, {f"{ids.SESSION}.data": session, f"{ids.DATASET}.data": descriptor,
                                  f"{ids.TABS}.active_tab": ids.TAB_HEATMAP, f"{ids.PROCESS}.disabled": False,
                                  f"{ids.BAND_TABLE}.data": preset_rows(DEFAULT_PRESET),
                                  f"{ids.SIGMA_TIME}.value": 2},
                           changed=[f"{ids.DATASET}.data"])
    assert smoothed[ids.RESULT]["data"]["options"] != first[ids.RESULT]["data"]["options"]
    assert children == [1]  # processing a large cube anew: in a child held to the job budget


def test_data_chosen_while_a_job_runs_go_to_the_background_job(page):
    client, session, descriptor = page
    answer = _open(client, session, descriptor, running=True)
    assert set(answer) == {ids.FIRST_JOB, ids.DATASET_LABEL}


def test_declared_bytes_counts_zip_members_by_their_headers(tmp_path):
    plain = tmp_path / "a.fits"
    plain.write_bytes(b"x" * 1000)
    archive = tmp_path / "b.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("one.fits", bytes(50_000))
        zipped.writestr("two.fits", bytes(70_000))
    assert archive.stat().st_size < 10_000
    assert declared_bytes([plain]) == 1000
    assert declared_bytes([plain, archive]) == 121_000
    gz = tmp_path / "c.fits.gz"
    gz.write_bytes(b"\x1f\x8b" + bytes(20))
    assert declared_bytes([plain, gz]) is None  # a gzip file says nothing trustworthy about its size
    assert declared_bytes([tmp_path]) is None and declared_bytes([tmp_path / "gone.fits"]) is None
    broken = tmp_path / "d.zip"
    broken.write_bytes(b"PK\x03\x04" + bytes(30))
    assert declared_bytes([broken]) is None


def test_the_band_editor_sends_only_what_the_page_does_not_hold_already(page):
    """After a result the editor refits and checks its rows; what the page already holds (the
    layout's preset rows, no error rules or tooltips, the same bands) is not sent again, since each
    change re-renders the table and a new BANDS redraws the views."""
    client, session, descriptor = page
    result = _open(client, session, descriptor)[ids.RESULT]["data"]
    held = {f"{ids.RESULT}.data": result, f"{ids.SESSION}.data": session,
            f"{ids.BAND_TABLE}.data": preset_rows(DEFAULT_PRESET)}
    first = client.call(f"{ids.BANDS}.data", held, changed=[f"{ids.RESULT}.data"])
    assert first[ids.BANDS]["data"], "a fresh page's bands are sent"
    table = first.get(ids.BAND_TABLE, {})
    refitted = table.get("data", preset_rows(DEFAULT_PRESET))
    again = client.call(f"{ids.BANDS}.data", {
        **held, f"{ids.BAND_TABLE}.data": refitted, f"{ids.BANDS}.data": first[ids.BANDS]["data"],
        f"{ids.BANDS_FITTED}.data": first.get(ids.BANDS_FITTED, {}).get("data"),
        f"{ids.BAND_TABLE}.style_data_conditional": table.get("style_data_conditional"),
        f"{ids.BAND_TABLE}.tooltip_data": table.get("tooltip_data"),
        f"{ids.BAND_MESSAGE}.children": first.get(ids.BAND_MESSAGE, {}).get("children"),
    }, changed=[f"{ids.RESULT}.data"])
    assert again == {}, again
    # a row the page's table holds now (typed in) is checked, and its rule and message are sent
    edited = [dict(row) for row in refitted] + [{"name": "odd", "start": 90.0, "end": 95.0}]
    checked = client.call(f"{ids.BANDS}.data", {
        **held, f"{ids.BAND_TABLE}.data": edited, f"{ids.BANDS}.data": first[ids.BANDS]["data"],
        f"{ids.BAND_TABLE}.style_data_conditional": table.get("style_data_conditional"),
        f"{ids.BAND_MESSAGE}.children": first.get(ids.BAND_MESSAGE, {}).get("children"),
    }, changed=[f"{ids.BAND_TABLE}.data"])
    rules = checked[ids.BAND_TABLE]["style_data_conditional"]
    assert {"row_index": len(edited) - 1} in [rule["if"] for rule in rules], rules
    assert f"Row {len(edited)}:" in str(checked[ids.BAND_MESSAGE]["children"])
