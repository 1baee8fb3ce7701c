"""One budget per job, enforced by the OS, and every job ending with a message — real processes, no browser.

The jobs run as they do in production: in a child process with an ``RLIMIT_DATA``
cap and a wall-clock deadline, and (for the end-to-end cases)
started by the dashboard's own background manager from a Flask test client.
"""

from __future__ import annotations

import ctypes
import faulthandler
import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from tests.helpers.dashboard_client import DashClient, flask_transport
from tests.helpers.upload_helpers import upload_files

import stamp_engine
from dashboard.app import create_app
from dashboard.jobs import run_job
from dashboard.server.budget import JobBudget, JobStopped, run_in_budget
from dashboard.server.config import Config
from dashboard.server.services import build_services
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.eureka import write_eureka_s3

SESSION = "c" * 32


@pytest.fixture(scope="module")
def eureka_file(tmp_path_factory) -> Path:
    obs = make_observation(kind="variability", n_integrations=60, wavelength=np.linspace(1.0, 4.0, 30), seed=4)
    path = tmp_path_factory.mktemp("data") / "budget_SpecData.h5"
    write_eureka_s3(path, obs, flux_units="mJy")
    return path


def _upload(config: Config, path: Path) -> dict:
    return upload_files(config, SESSION, [path])


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# ------------------------------------------------------------------ the budget itself
def test_a_hung_reader_that_ignores_signals_is_killed_at_the_deadline_with_its_group():
    pids = []

    def hang(report):
        # A C loop never runs Python signal handlers; blocking them all is the worst case.
        signal.pthread_sigmask(signal.SIG_BLOCK, set(signal.Signals) - {signal.SIGKILL, signal.SIGSTOP})
        grandchild = os.fork()
        if grandchild == 0:
            while True:
                time.sleep(1)
        report("Reading hostile.h5", 0, 1)
        while True:
            time.sleep(0.05)

    started = time.monotonic()
    answer = run_in_budget(hang, JobBudget(memory_mb=256, timeout_s=1.5), on_child=pids.append)
    elapsed = time.monotonic() - started
    assert isinstance(answer, JobStopped) and answer.reason == "timeout"
    assert "Stopped after 2 s" in answer.message and "Reading hostile.h5" in answer.message
    assert 1.5 <= elapsed < 8
    assert _gone(pids[0])
    # nothing of its process group is left running (SIGKILL is delivered, not waited for: the
    # orphaned grandchild can still show as running for a moment on a loaded machine)
    left = lambda: [p for p in psutil.process_iter(["pid"]) if _pgid(p.pid) == pids[0] and not _gone(p.pid)]  # noqa: E731
    deadline = time.monotonic() + 5
    while left() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left()


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def test_memory_is_capped_by_the_os_and_said():
    def allocate(report):
        report("Reading bomb.h5", 0, 1)
        block = np.ones((20000, 20000))  # 3.2 GB
        return float(block.sum())

    answer = run_in_budget(allocate, JobBudget(memory_mb=200, timeout_s=60))
    assert isinstance(answer, JobStopped) and answer.reason == "memory"
    assert "memory limit of 200 MB" in answer.message and "Reading bomb.h5" in answer.message


def test_input_files_larger_than_the_budget_are_read_through_maps_and_allocations_are_still_capped(tmp_path):
    # A job reads its columns through read-only maps of the input files: those are page cache,
    # not the job's memory (five 0.57 GB segments once ran a job out of its 3 GB budget).
    big = tmp_path / "segment_x1dints.fits"
    with open(big, "wb") as handle:
        handle.truncate(600 * 1024 * 1024)  # sparse: 600 MB to map, no disk used
        handle.seek(0)
        handle.write(b"SIMPLE  =")

    def read_then_allocate(report):
        report(f"Reading {big.name}", 0, 1)
        mapped = np.memmap(big, dtype=np.uint8, mode="r")
        total = int(mapped[::4096].sum())  # touches every page of the 600 MB map
        try:
            np.ones((30000, 2000))  # 480 MB of the job's own memory: over its 200 MB
        except MemoryError:
            return {"mapped": mapped.size, "total": total, "capped": True}
        return {"mapped": mapped.size, "total": total, "capped": False}

    answer = run_in_budget(read_then_allocate, JobBudget(memory_mb=200, timeout_s=60))
    assert answer == {"mapped": 600 * 1024 * 1024, "total": ord("S"), "capped": True}


def test_a_segfaulting_reader_becomes_a_message():
    def crash(report):
        report("Reading fuzzed.h5", 0, 1)
        faulthandler.disable()  # pytest's handler would print this intended crash's stack into the log
        ctypes.string_at(0)

    answer = run_in_budget(crash, JobBudget(memory_mb=256, timeout_s=30))
    assert isinstance(answer, JobStopped) and answer.reason == "crashed"
    assert "SIGSEGV" in answer.message and "Reading fuzzed.h5" in answer.message


def test_a_killed_job_process_becomes_a_message_and_the_answer_otherwise_comes_back():
    def slow(report):
        report("Reading slow.fits", 0, 1)
        time.sleep(60)

    answer = run_in_budget(slow, JobBudget(memory_mb=256, timeout_s=60),
                           on_child=lambda pid: (time.sleep(0.5), os.kill(pid, signal.SIGKILL)))
    assert isinstance(answer, JobStopped) and answer.reason == "killed" and "SIGKILL" in answer.message
    seen = []
    assert run_in_budget(lambda report: (report("Reading", 1, 1), 42)[1], JobBudget(256, 30),
                         report=lambda *r: seen.append(r)) == 42
    assert seen == [("Reading", 1, 1)]


# ------------------------------------------------------------------ a dashboard job
def test_a_timed_out_job_frees_its_slot_and_scratch_and_says_why(tmp_path, eureka_file, caplog):
    config = Config(cache_dir=tmp_path / "cache", demo_path=None, max_session_jobs=1, job_timeout_s=2)
    descriptor = _upload(config, eureka_file)

    def stuck_loader(paths, progress=None, workdir=None):
        import tempfile

        Path(tempfile.mkdtemp(prefix="stamp-inputs-", dir=workdir), "expanded.fits").write_bytes(b"x" * 1000)
        progress(f"Reading {paths[0].name}", 0, 1)
        time.sleep(120)

    services = build_services(config, loader=stuck_loader)
    caplog.set_level("INFO", logger="stamp.jobs")
    outcome = run_job(services, descriptor, {}, session=SESSION, budgeted=True)
    assert outcome.result is None
    assert outcome.message.startswith("Stopped after 2 s") and f"Reading {eureka_file.name}" in outcome.message
    assert services.gate.running() == {}
    assert not any(config.scratch_dir.iterdir())
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.getMessage().startswith("{")]
    assert [line["outcome"] for line in lines] == ["timeout"]
    # the same page can run its next job at once (its one slot is free)
    ok = run_job(build_services(config), descriptor, {}, session=SESSION, budgeted=True)
    assert ok.result is not None and ok.message is None


def _message_text(response: dict) -> str:
    return json.dumps(response.get("job-message", {}))


@pytest.mark.parametrize("victim", ["job process", "reader child"])
def test_kill_9_of_a_running_job_ends_with_a_message_on_the_page(tmp_path, eureka_file, victim):
    pid_file = tmp_path / "reader.pid"

    def slow_loader(paths, progress=None, workdir=None):
        pid_file.write_text(str(os.getpid()))
        for i in range(300):
            progress("Waiting for a slow disk", i, 300)
            time.sleep(0.1)
        return stamp_engine.load(paths, progress=progress, workdir=workdir)

    config = Config(cache_dir=tmp_path / "cache", demo_path=None)
    app = create_app(config, loader=slow_loader)
    client = DashClient(flask_transport(app.server.test_client()))
    session = client.store("session-id")
    descriptor = upload_files(config, session, [eureka_file])
    body, status, first = client.submit("job-result.data", {"dataset.data": descriptor, "session-id.data": session},
                                        changed=["dataset.data"])
    assert status == 200 and "cacheKey" in first, first
    deadline = time.monotonic() + 30
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    reader = int(pid_file.read_text())
    victim_pid = psutil.Process(reader).ppid() if victim == "job process" else reader
    os.kill(victim_pid, signal.SIGKILL)
    killed_at = time.monotonic()
    response = client.follow("job-result.data", body, status, first, timeout_s=20)
    assert time.monotonic() - killed_at < 10
    text = _message_text(response)
    assert "killed" in text and "press Process again" in text, response
    deadline = time.monotonic() + 10
    while not _gone(reader) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(reader), "the reader must not outlive its job"


def test_a_dashboard_job_over_its_memory_budget_names_the_file_and_the_limit(tmp_path, eureka_file):
    config = Config(cache_dir=tmp_path / "cache", demo_path=None, job_memory_mb=300)

    def greedy_loader(paths, progress=None, workdir=None):
        progress(f"Reading {paths[0].name}", 0, 1)
        return np.ones((30000, 30000))  # 7.2 GB: what a 2 kB HDF5 declaring that shape asks for

    outcome = run_job(build_services(config, loader=greedy_loader), _upload(config, eureka_file), {},
                      session=SESSION, budgeted=True)
    assert outcome.result is None
    assert f"Reading {eureka_file.name}" in outcome.message and "memory limit of 300 MB" in outcome.message


def _huge_page_advice_in_this_process() -> bool:
    from numpy._core.multiarray import _set_madvise_hugepage

    advised = _set_madvise_hugepage(False)
    _set_madvise_hugepage(advised)
    return advised


def test_a_job_runs_without_numpys_huge_page_advice_and_the_runner_keeps_its_own():
    from numpy._core.multiarray import _set_madvise_hugepage

    before = _set_madvise_hugepage(True)  # the runner advises (conftest turned it off for the suite)
    try:
        answer = run_in_budget(lambda report: _huge_page_advice_in_this_process(),
                               JobBudget(memory_mb=256, timeout_s=60))
        assert answer is False
        assert _huge_page_advice_in_this_process() is True
    finally:
        _set_madvise_hugepage(before)
