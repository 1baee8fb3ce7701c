"""What a local job's process starts with: the fork server's warm-up, and no Celery lookup."""

from __future__ import annotations

import logging
import subprocess
import sys

from dashboard.server import background


def _loaded_in_a_job(names: list[str]) -> dict[str, bool]:
    """Which of ``names`` are in ``sys.modules`` of a process forked from the jobs' fork server."""
    from multiprocess import get_context

    background.warm_forkserver()
    queue = get_context("forkserver").SimpleQueue()
    process = get_context("forkserver").Process(target=_report_modules, args=(names, queue))
    process.start()
    loaded = queue.get()
    process.join(30)
    return loaded


def _report_modules(names, queue) -> None:
    import sys as job_sys

    queue.put({name: name in job_sys.modules for name in names})


def test_a_job_process_starts_with_the_heatmap_figure_classes_made_and_without_celery():
    # plotly.py makes a trace type's classes the first time a figure uses it: 0.2 s of a cold job
    loaded = _loaded_in_a_job(["plotly.graph_objs._heatmap", "stamp_engine.steps.binning", "celery"])
    assert loaded == {"plotly.graph_objs._heatmap": True, "stamp_engine.steps.binning": True, "celery": False}


def test_a_local_job_asks_no_heartbeat_and_does_not_import_celery():
    code = ("import sys; from dashboard.server.background import job_heartbeat; "
            "print(job_heartbeat(), 'celery' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["None", "False"]


def test_a_failing_warm_up_is_logged_and_does_not_raise(monkeypatch, caplog):
    from dashboard.server import warm_jobs

    import stamp_engine.synthetic as synthetic

    def broken(**_):
        raise RuntimeError("no synthetic data today")

    monkeypatch.setattr(synthetic, "make_observation", broken)
    with caplog.at_level(logging.WARNING, logger="stamp.jobs"):
        warm_jobs.warm()
    assert "warming the jobs' fork server failed" in caplog.text
    assert "no synthetic data today" in caplog.text
