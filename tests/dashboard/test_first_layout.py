"""The first layout response holds only what the first view needs (issue 14: page open ≤ 2 s).

The science tabs' controls and graphs are mounted the first time a science tab opens
(dashboard/features/science.py): the page opens without them, and opening one tab fills all
three, with the transmission windows already picked on the white-light curve.
"""

from __future__ import annotations

from tests.helpers.dashboard_client import DashClient, flask_transport

from dashboard import ids
from dashboard.app import create_app
from dashboard.features import science
from dashboard.server.config import Config

SCIENCE_CONTROLS = (ids.CHANNELS_BY, ids.CHANNELS_DIVIDE, ids.DEPTH_KIND, ids.IN_TRANSIT_START,
                    ids.WINDOW_BASELINE_START, ids.AMPLITUDE_PERIOD)
SCIENCE_GRAPHS = (ids.CHANNELS_GRAPH, ids.DEPTH_GRAPH, ids.PERIODOGRAM_GRAPH, ids.AMPLITUDE_GRAPH)


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


def test_the_first_layout_leaves_out_the_science_controls_until_a_science_tab_opens(tmp_path):
    app = create_app(Config(cache_dir=tmp_path / "cache", demo_path=None))
    client = DashClient(flask_transport(app.server.test_client()))
    components = _components(client.layout)
    present = {c["props"].get("id") for c in components}
    assert not present & set(SCIENCE_CONTROLS)
    # the panels' outputs stay (their callbacks write them); the panes wait empty
    assert set(SCIENCE_GRAPHS) <= present and ids.SCIENCE_MOUNTED in present
    assert len(components) < 320, len(components)  # 361 before (315 with the seven views' SHOWN stores)

    mount = f"{ids.SCIENCE_MOUNTED}.data"
    state = {mount: False, f"{ids.WINDOWS_STORE}.data": {"baseline": [2.5, 0.5], "in_transit": None}}
    tab = f"{ids.TABS}.active_tab"
    # another tab changes nothing; a science tab fills all the panes at once
    assert client.call(mount, {tab: ids.TAB_SURFACE, **state}, changed=[tab]) == {}
    answer = client.call(mount, {tab: ids.TAB_VARIABILITY, **state}, changed=[tab])
    assert answer[ids.SCIENCE_MOUNTED]["data"] is True
    panes = [*ids.SCIENCE_PANES.values(), ids.WINDOW_PANE]
    mounted = {c["props"].get("id"): c["props"] for pane in panes for c in _components(answer[pane]["children"])}
    assert set(SCIENCE_CONTROLS) <= set(mounted)
    # with the baseline already picked on the white-light curve
    assert (mounted[ids.WINDOW_BASELINE_START]["value"], mounted[ids.WINDOW_BASELINE_END]["value"]) == (0.5, 2.5)
    assert mounted[ids.IN_TRANSIT_START].get("value") is None

    # once mounted, opening a science tab again sends nothing; a new box-select rewrites only the windows,
    # keeping what was typed in the others
    state[mount] = True
    assert client.call(mount, {tab: ids.TAB_CHANNELS, **state}, changed=[tab]) == {}
    typed = {f"{control}.value": value for control, value in
             zip(science.WINDOW_CONTROLS, (1.0, 2.0, 0.1, 0.9, 3.0, 3.5))}
    answer = client.call(mount, {tab: ids.TAB_CHANNELS, **state, **typed,
                                 f"{ids.WINDOWS_STORE}.data": {"baseline": None, "in_transit": [1.9, 1.2]}},
                         changed=[f"{ids.WINDOWS_STORE}.data"])
    assert set(answer) == {ids.WINDOW_PANE}
    values = {c["props"]["id"]: c["props"].get("value") for c in _components(answer[ids.WINDOW_PANE]["children"])
              if c["props"].get("id") in science.WINDOW_CONTROLS}
    assert [values[control] for control in science.WINDOW_CONTROLS] == [1.2, 1.9, 0.1, 0.9, 3.0, 3.5]
