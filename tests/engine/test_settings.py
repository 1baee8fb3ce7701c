"""One rule for STAMP_* environment variables (stamp_engine.settings), shared by the engine's
readers (warn, keep the default) and the dashboard's Config (refuse to start)."""

from __future__ import annotations

import math
import os

import pytest

from dashboard.server.config import Config, ConfigError
from stamp_engine.io.containers import ArchiveLimits, parse_size
from stamp_engine.io.sandbox import ReadLimits
from stamp_engine.settings import (NUMPY_HUGEPAGE_VARIABLE, env_value, env_value_or_default,
                                   numpy_without_huge_pages, switch)


@pytest.mark.parametrize(
    ("raw", "parse", "positive", "message"),
    [
        ("lots", int, False, "STAMP_X='lots' is not a whole number"),
        ("2.5", int, False, "STAMP_X='2.5' is not a whole number"),
        ("soon", float, False, "STAMP_X='soon' is not a number"),
        ("0", int, True, "STAMP_X='0' is not a positive number"),
        (" -3 ", float, True, "STAMP_X=' -3 ' is not a positive number"),
        ("nan", float, True, "STAMP_X='nan' is not a positive number"),
        ("big", parse_size, True, "STAMP_X='big' is not a positive number"),
    ],
)
def test_a_bad_value_is_named_with_the_variable(raw, parse, positive, message):
    with pytest.raises(ValueError) as caught:
        env_value({"STAMP_X": raw}, "STAMP_X", parse, 7, positive=positive)
    assert str(caught.value) == message
    with pytest.warns(UserWarning) as warned:
        assert env_value_or_default({"STAMP_X": raw}, "STAMP_X", parse, 7, positive=positive) == 7
    assert [str(w.message) for w in warned] == [f"{message}; using the default 7"]


def test_unset_and_blank_take_the_default_and_values_are_stripped():
    assert env_value({}, "STAMP_X", int, None) is None
    assert env_value({"STAMP_X": "  "}, "STAMP_X", int, 5) == 5
    assert env_value({"STAMP_X": " 12 "}, "STAMP_X", int, 5) == 12
    assert env_value({"STAMP_X": "2GiB"}, "STAMP_X", parse_size, 0, positive=True) == 2 * 1024**3
    assert env_value({"STAMP_X": " a b "}, "STAMP_X", str, None) == "a b"
    assert math.isinf(env_value({"STAMP_X": "inf"}, "STAMP_X", float, 1.0, positive=True))
    with pytest.raises(ValueError, match=r"^STAMP_X='x' is not a count of files$"):
        env_value({"STAMP_X": "x"}, "STAMP_X", int, 1, expected="a count of files")


@pytest.mark.parametrize(("raw", "on"), [("0", False), ("False", False), (" no ", False), ("OFF", False),
                                         ("1", True), ("yes", True), ("", True), ("whatever", True)])
def test_read_isolation_switch(raw, on):
    assert ReadLimits.from_env({"STAMP_READ_ISOLATE": raw}).isolate is on
    assert switch(raw) is on


def test_engine_and_dashboard_say_the_same_words():
    """The engine warns and keeps its default; the dashboard refuses to start, in the same words."""
    with pytest.warns(UserWarning, match=r"^STAMP_READ_TIMEOUT_S='-1' is not a positive number; using the default 300\.0$"):
        assert ReadLimits.from_env({"STAMP_READ_TIMEOUT_S": "-1"}).timeout_s == 300.0
    with pytest.warns(UserWarning, match=r"^STAMP_ZIP_MAX_BYTES='2 parsecs' is not a positive number"):
        assert ArchiveLimits.from_env({"STAMP_ZIP_MAX_BYTES": "2 parsecs"}) == ArchiveLimits()
    with pytest.raises(ConfigError) as caught:
        Config.from_env({"STAMP_MAX_JOBS": "eight"})
    assert str(caught.value) == "STAMP_MAX_JOBS='eight' is not a whole number"
    with pytest.raises(ConfigError, match=r"^STAMP_JOB_TIMEOUT_S='10 min' is not a number$"):
        Config.from_env({"STAMP_JOB_TIMEOUT_S": "10 min"})
    assert Config.from_env({"STAMP_MAX_JOBS": " 3 ", "STAMP_REDIS_URL": "  "}).max_jobs == 3


def _numpy_huge_page_advice() -> bool:
    from numpy._core.multiarray import _get_madvise_hugepage

    return _get_madvise_hugepage()


@pytest.fixture
def numpy_advice_restored():
    from numpy._core.multiarray import _set_madvise_hugepage

    before = _numpy_huge_page_advice()
    yield
    _set_madvise_hugepage(before)


def test_numpy_without_huge_pages_switches_the_advice_off_here_and_for_processes_started_later(numpy_advice_restored):
    from numpy._core.multiarray import _set_madvise_hugepage

    _set_madvise_hugepage(True)
    environ: dict[str, str] = {}
    assert numpy_without_huge_pages(environ) is True
    assert _numpy_huge_page_advice() is False
    assert environ == {NUMPY_HUGEPAGE_VARIABLE: "0"}


def test_numpy_without_huge_pages_respects_an_operator_who_keeps_them(numpy_advice_restored):
    from numpy._core.multiarray import _set_madvise_hugepage

    _set_madvise_hugepage(True)
    environ = {NUMPY_HUGEPAGE_VARIABLE: "1"}
    assert numpy_without_huge_pages(environ) is False
    assert _numpy_huge_page_advice() is True
    assert environ == {NUMPY_HUGEPAGE_VARIABLE: "1"}


def test_a_process_started_after_the_server_configured_numpy_imports_it_without_the_advice(tmp_path):
    import subprocess
    import sys

    environ: dict[str, str] = {"PATH": os.environ.get("PATH", "")}
    numpy_without_huge_pages(environ)
    probe = "from numpy._core.multiarray import _get_madvise_hugepage as g; print(g())"
    shown = subprocess.run([sys.executable, "-c", probe], env=environ, capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "False"
