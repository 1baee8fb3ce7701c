"""The benchmark harness's verdicts: what it judges, and what it only reports."""

from __future__ import annotations

from benchmarks import datasets
from benchmarks.common import Target
from benchmarks.ingest import TARGET_MEMORY, memory_target


def test_a_report_only_target_is_never_a_failure():
    judged = Target("ratio", 4.0, 3.0)
    reported = Target("ratio", 4.0, 3.0, report_only="tiny cube")
    assert judged.verdict == "FAIL" and judged.passed is False
    assert reported.verdict == "REPORT" and reported.passed is None and reported.met is False
    assert "not judged: tiny cube" in reported.line() and "4" in reported.line()
    assert Target("ratio", None, 3.0, report_only="tiny cube").verdict == "NOT RUN"


def test_memory_is_judged_on_real_sizes_and_reported_on_the_tiny_quick_cube():
    verdicts = {}
    for quick in (False, True):
        for spec in datasets.ingest_specs(quick):
            verdicts[(quick, spec.layout)] = memory_target(spec.layout, TARGET_MEMORY + 1, spec.cube_bytes).verdict
    # the ~0.8 MiB quick old-layout cube is dominated by fixed overhead: reported, not failed
    assert verdicts == {(False, "new"): "FAIL", (False, "old"): "FAIL", (True, "new"): "FAIL", (True, "old"): "REPORT"}


def test_section_headings_name_what_they_measure():
    import inspect

    from benchmarks import exports, figures, ingest

    for module in (ingest, figures, exports):
        source = inspect.getsource(module)
        assert "issue" not in source.lower(), module.__name__


def test_every_server_side_target_in_the_table_is_one_a_section_measures():
    import inspect

    from benchmarks import ingest, server
    from benchmarks.targets import GOALS

    sources = {"ingest": inspect.getsource(ingest).lower(), "server": inspect.getsource(server).lower()}
    for goal in GOALS:
        if goal.section in sources:  # ingest names its targets f"{layout} layout: …"
            assert goal.measured_by.lower().removeprefix("new ") in sources[goal.section], goal.label


def test_the_table_takes_browser_rows_in_any_plain_shape_and_says_when_nothing_was_measured(capsys):
    from benchmarks.common import SectionResult
    from benchmarks.targets import _as_target, print_targets

    assert _as_target(Target("page open to usable", 1.2, 2.0, unit=" s")).verdict == "PASS"
    assert _as_target({"name": "small file → first view", "value": 1.4, "limit": 1.0}).verdict == "FAIL"
    assert _as_target(("surface highlight", 0.5, 0.9, " s")).verdict == "PASS"
    assert _as_target("not a row") is None
    server = SectionResult("server", False, targets=[Target("display reduction, 10,000 × 2,040", 0.7, 0.5, unit=" s")])
    rows = print_targets({"server": server}, quick=False, browser=False)
    by_label = {row[0]: row for row in rows}
    assert by_label["display reduction ≤ 0.5 s at 10,000 × 2,040"][1:3] == ["0.7 s", "FAIL"]
    assert by_label["page open to usable ≤ 2 s"][1:3] == ["skipped (--no-browser)", "NOT RUN"]
    assert by_label["ingest (load + normalize) ≤ 1.5× the floor"][2] == "NOT RUN"
    assert "before (predecessor)" in capsys.readouterr().out


def test_every_browser_target_in_the_table_is_one_a_browser_measurement_names():
    import importlib
    import inspect

    from benchmarks.targets import BROWSER_MEASUREMENTS, GOALS

    source = "".join(inspect.getsource(importlib.import_module(module)) for module, _ in BROWSER_MEASUREMENTS)
    for goal in GOALS:
        if goal.section == "browser":
            keys = (goal.measured_by,) if isinstance(goal.measured_by, str) else goal.measured_by
            for key in keys:
                assert key in source, (goal.label, key)


def test_a_browser_row_becomes_a_target_with_its_own_verdict_and_no_unit_taken_from_it():
    from benchmarks.browser import BrowserRow
    from benchmarks.targets import _as_target

    failed = _as_target(BrowserRow("10,000 × 2,040 ZIP → heatmap (cold)", 15.7, 5.0, "FAIL"))
    assert (failed.name, failed.value, failed.limit, failed.verdict, failed.unit) == (
        "10,000 × 2,040 ZIP → heatmap (cold)", 15.7, 5.0, "FAIL", "")
    assert _as_target(BrowserRow("small file → first view (cold)", 0.9, float("nan"), "REPORT")).verdict == "REPORT"
    assert _as_target(BrowserRow("Play frame", None, 0.3, "NOT RUN")).verdict == "NOT RUN"
