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
