"""Page sessions are issued (signed) by the server; made-up, foreign-format or missing sessions are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dashboard.app import create_app
from tests.helpers.dashboard_client import CallbackFailed, DashClient, flask_transport
from dashboard.server.config import Config
from dashboard.server.sessions import NOT_ISSUED, is_issued, issue_session
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.eureka import write_eureka_s3


@pytest.fixture
def page(tmp_path):
    config = Config(cache_dir=tmp_path / "cache")
    app = create_app(config)
    return config, app, DashClient(flask_transport(app.server.test_client()))


def test_each_page_load_gets_a_session_signed_by_this_server(page, tmp_path):
    config, app, client = page
    session = client.store("session-id")
    assert is_issued(config, session) and len(session) == 64
    assert client.store("session-id") == session
    assert DashClient(flask_transport(app.server.test_client())).store("session-id") != session
    # another server (another key) did not issue it; tampering breaks it
    assert not is_issued(Config(cache_dir=tmp_path / "elsewhere"), session)
    assert not is_issued(config, session[:-1] + ("0" if session[-1] != "0" else "1"))
    for forged in (None, "", "a" * 32, "a" * 64, 42, ["x"], session.upper()):
        assert not is_issued(config, forged)
    assert is_issued(config, issue_session(config))


@pytest.mark.parametrize("session", [None, "a" * 32, "0" * 64])
def test_a_job_with_a_missing_or_made_up_session_is_refused(page, session):
    config, _, client = page
    answer = client.call("job-result.data", {"dataset.data": {"kind": "demo"}, "session-id.data": session},
                         changed=["dataset.data"])
    assert NOT_ISSUED in json.dumps(answer.get("job-message")) and "job-result" not in answer
    # the same request with the page's own session runs
    ok = client.call("job-result.data", {"dataset.data": {"kind": "demo"}, "session-id.data": client.store("session-id")},
                     changed=["dataset.data"], timeout_s=120)
    assert "ticket" in ok["job-result"]["data"]


def test_an_upload_with_a_made_up_session_is_refused(page, tmp_path):
    config, _, client = page
    obs = make_observation(kind="variability", n_integrations=20, wavelength=np.linspace(1, 4, 10), seed=1)
    path = tmp_path / "s_SpecData.h5"
    write_eureka_s3(path, obs)
    made_up = "f" * 64  # the form of an issued session, not issued
    with pytest.raises(CallbackFailed, match="403") as refused:
        client.upload([path], made_up)
    assert NOT_ISSUED in str(refused.value) and not config.uploads_dir.joinpath(made_up).exists()
    finished = client.call("dataset.data", {"upload-done.data": {"upload": "0" * 32}, "session-id.data": made_up})
    assert NOT_ISSUED in json.dumps(finished) and "dataset" not in finished
    received = client.upload([path], client.store("session-id"))
    assert received["dataset"]["data"]["session"] == client.store("session-id")


def test_views_refuse_hostile_band_lists_with_a_message_never_an_http_500(page):
    config, _, client = page
    session = client.store("session-id")
    done = client.call("job-result.data", {"dataset.data": {"kind": "demo"}, "session-id.data": session},
                       changed=["dataset.data"], timeout_s=120)
    result = done["job-result"]["data"]
    good = [{"name": "H2O", "start": 1.3, "end": 1.5}]
    hostile = {
        "NaN edge": ([{"name": "x", "start": float("nan"), "end": 2.0}], "Band 1 sent by the page is not usable"),
        "string edge": ([*good, {"name": "x", "start": "abc", "end": 2.0}], "Band 2 sent by the page is not usable"),
        "no end": ([{"name": "x", "start": 1.0}], "Band 1"),
        "reversed": ([{"name": "x", "start": 3.0, "end": 2.0}], "Band 1"),
        "name not text": ([{"name": {"a": 1}, "start": 1.0, "end": 2.0}], "Band 1"),
        "300 bands": ([{"name": f"b{i}", "start": 1 + i / 1000, "end": 1.001 + i / 1000} for i in range(300)],
                      "300 bands were sent; at most 40"),
        "not a list": ({"name": "x"}, "not a list"),
    }
    for graph, tab in (("heatmap-graph", "tab-heatmap"), ("lightcurve-graph", "tab-lightcurves")):
        for what, (bands, message) in hostile.items():
            answer = client.call(f"{graph}.figure", {"view-tabs.active_tab": tab, "job-result.data": result,
                                                     "session-id.data": session, "valid-bands.data": bands})
            text = json.dumps(answer[graph]["figure"]["layout"])
            assert message in text, (graph, what, text[:300])
            assert len(json.dumps(answer)) < 20_000
        drawn = client.call(f"{graph}.figure", {"view-tabs.active_tab": tab, "job-result.data": result,
                                                "session-id.data": session, "valid-bands.data": good})
        assert drawn[graph]["figure"]["data"], graph
    # a result that is not an object draws nothing and does not fail
    assert client.call("heatmap-graph.figure", {"view-tabs.active_tab": "tab-heatmap", "job-result.data": "x",
                                                "session-id.data": session}) == {}
