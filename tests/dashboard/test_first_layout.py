"""The first layout response holds only what the first view needs (issue 14: page open ≤ 2 s).

The science tabs' controls and graphs are mounted the first time a science tab opens
(dashboard/features/science.py): the page opens without them, and opening one tab fills all
three, with the transmission windows already picked on the white-light curve.
"""

from __future__ import annotations

from tests.helpers.dashboard_client import DashClient, flask_transport

from dashboard import ids
from dashboard.app import create_app
from dashboard.server.config import Config

SCIENCE_CONTROLS = (ids.CHANNELS_GRAPH, ids.CHANNELS_BY, ids.DEPTH_GRAPH, ids.IN_TRANSIT_START,
                    ids.WINDOW_BASELINE_START, ids.PERIODOGRAM_GRAPH, ids.AMPLITUDE_GRAPH, ids.AMPLITUDE_PERIOD)


def _components(node) -> list[dict]:
    """Every component of a layout (JSON as the renderer gets it), depth first."""
    if isinstance(node, list):
        return [c for child in node for c in _components(child)]
    if not isinstance(node, dict) or "type" not in node or "props" not in node:
        return []
    found = [node]
    for value in node["props"].values():
        found += _components(value)
    return found


def test_the_first_layout_leaves_out_the_science_panels_until_a_science_tab_opens(tmp_path):
    app = create_app(Config(cache_dir=tmp_path / "cache", demo_path=None))
    client = DashClient(flask_transport(app.server.test_client()))
    components = _components(client.layout)
    present = {c["props"].get("id") for c in components}
    assert not present & set(SCIENCE_CONTROLS)
    assert set(ids.SCIENCE_PANES.values()) <= present and ids.SCIENCE_MOUNTED in present
    # ~74 science components were in it before; what is left stays well under the old 361
    assert len(components) < 300, len(components)
    assert sum(c["type"] == "Graph" for c in components) == 6  # 4 views + 2 explore graphs, no science graph

    state = {f"{ids.SCIENCE_MOUNTED}.data": False, f"{ids.WINDOWS_STORE}.data": {"baseline": [2.5, 0.5],
                                                                                 "in_transit": None}}
    # another tab changes nothing; a science tab fills all three panes at once
    assert client.call(f"{ids.SCIENCE_MOUNTED}.data", {f"{ids.TABS}.active_tab": ids.TAB_SURFACE, **state},
                       changed=[f"{ids.TABS}.active_tab"]) == {}
    answer = client.call(f"{ids.SCIENCE_MOUNTED}.data", {f"{ids.TABS}.active_tab": ids.TAB_VARIABILITY, **state},
                         changed=[f"{ids.TABS}.active_tab"])
    assert answer[ids.SCIENCE_MOUNTED]["data"] is True
    mounted = {c["props"].get("id"): c["props"] for pane in ids.SCIENCE_PANES.values()
               for c in _components(answer[pane]["children"])}
    assert set(SCIENCE_CONTROLS) <= set(mounted)
    assert (mounted[ids.WINDOW_BASELINE_START]["value"], mounted[ids.WINDOW_BASELINE_END]["value"]) == (0.5, 2.5)
    assert mounted[ids.IN_TRANSIT_START].get("value") is None
    # once mounted, opening a science tab again sends nothing
    assert client.call(f"{ids.SCIENCE_MOUNTED}.data", {f"{ids.TABS}.active_tab": ids.TAB_CHANNELS,
                                                       **state, f"{ids.SCIENCE_MOUNTED}.data": True},
                       changed=[f"{ids.TABS}.active_tab"]) == {}
