"""The isolated reader keeps working in a process that already holds more than 1024 descriptors."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest

import stamp_engine

REAL = Path(__file__).parents[2] / "data/real/jwst_x1dints/jw02783-o002_t001_miri_p750l-slitlessprism_x1dints.fits"


def test_a_file_is_read_when_the_readers_pipe_is_numbered_above_1024(monkeypatch):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.fail(f"the hard descriptor limit {hard} is below 2048: this test needs it raised")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))
    monkeypatch.setenv("STAMP_READ_ISOLATE", "1")
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]  # select() refused fds from 1024 up
    try:
        cube = stamp_engine.load([REAL])
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert cube.flux.shape == (10, 388)
