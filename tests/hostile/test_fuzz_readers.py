"""Fuzzing the readers: mutated bytes of small valid files either load or raise StampError — nothing else.

Bounded: 200 derandomized examples per format, each loaded in a forked child with
a time limit.  libhdf5 itself can loop forever or crash on some corrupted files (found
by this test: an attribute read in ``h5py`` never returns; two files segfault h5py);
``load`` reads every file in a child of its own with a deadline and a memory cap
(:mod:`stamp_engine.io.sandbox`), so here no example may hang, crash or exceed
memory: each must end as a cube or as a StampError naming the problem.  The structural
fields (FITS TFIELDS, NAXISn, PCOUNT, GCOUNT, BITPIX; HDF5 dataset shapes, chunks and
filters) are fuzzed too, with huge and negative values, each load bounded in time.
"""

from __future__ import annotations

import faulthandler
import multiprocessing
import os
import time

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stamp_engine import load
from stamp_engine.cube import Cube
from stamp_engine.io.sandbox import ReadLimits
from stamp_engine.problems import StampError
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.eureka import write_eureka_s3
from stamp_engine.synthetic.x1dints import write_segments

FUZZ = settings(max_examples=200, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("fuzz")
    obs = make_observation(kind="transit", n_integrations=8, wavelength=np.linspace(1.0, 3.0, 10), seed=4)
    new = write_segments(root / "new", obs, n_segments=1)[0]
    old = write_segments(root / "old", obs, n_segments=1, layout="old")[0]
    eureka = root / "seed_SpecData.h5"
    write_eureka_s3(eureka, obs)
    return {"x1dints_new": new.read_bytes(), "x1dints_old": old.read_bytes(), "eureka": eureka.read_bytes()}


mutations = st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=12)
#: Keep the file whole (1.0) most of the time, else cut it somewhere.
cuts = st.one_of(st.just(1.0), st.floats(0, 1))


def _mutate(data: bytes, changes, cut: float) -> bytes:
    buffer = bytearray(data)
    for where, value in changes:
        buffer[int(where * len(buffer))] = value
    return bytes(buffer[: max(1, int(cut * len(buffer)))])


#: Seconds one file may take to be read (the loader's own deadline, STAMP_READ_TIMEOUT_S).
READ_LIMITS = ReadLimits(timeout_s=4.0, max_memory_bytes=1024**3)
#: Seconds one example may take before the test calls it a hang (the read deadline plus assembly).
EXAMPLE_LIMIT_S = 20


def _load_in_child(path, stack_path, conn) -> None:
    with open(stack_path, "w") as stack:
        faulthandler.dump_traceback_later(EXAMPLE_LIMIT_S, exit=True, file=stack)
        try:
            cube = load([path], read_limits=READ_LIMITS)
            ok = isinstance(cube, Cube) and cube.flux.shape == (cube.n_integrations, cube.n_wavelengths)
            conn.send("cube" if ok else "bad cube")
        except StampError as exc:
            conn.send("stamp-error" if str(exc) else "empty message")
            if "reading was stopped" in str(exc) or "crash" in str(exc):
                conn.send(str(exc))  # a hang or crash the loader caught and named
        except BaseException as exc:  # noqa: BLE001 — exactly what the test is looking for
            conn.send(f"{type(exc).__name__}: {exc}")
        os._exit(0)


def _check(tmp_path, name: str, data: bytes, stopped: list) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    stack_path = tmp_path / "stack.txt"
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_load_in_child, args=(path, stack_path, send))
    child.start()
    child.join(EXAMPLE_LIMIT_S + 5)
    if child.is_alive():
        child.kill()
        child.join()
    outcome = receive.recv() if receive.poll() else None
    assert outcome is not None, f"{name}: load() hung or crashed (exit {child.exitcode})\n{stack_path.read_text()}"
    assert outcome in ("cube", "stamp-error"), f"{name}: {outcome}"
    if outcome == "stamp-error" and receive.poll():
        stopped.append(receive.recv())


@pytest.mark.parametrize("kind, name", [("x1dints_new", "fuzz_x1dints.fits"), ("x1dints_old", "fuzz_old_x1dints.fits"),
                                        ("eureka", "fuzz_SpecData.h5")])
def test_mutated_files_load_or_raise_stamp_error(seeds, tmp_path, kind, name):
    stopped: list[str] = []

    @FUZZ
    @given(changes=mutations, cut=cuts)
    def run(changes, cut):
        _check(tmp_path, name, _mutate(seeds[kind], changes, cut), stopped)

    run()
    # Hangs and crashes caught by the loader are HDF5's only, and each names the file.
    assert all(name in message for message in stopped) and (not stopped or name.endswith(".h5")), stopped


# ----------------------------------------------------------------------- structural header fields
STRUCTURE = settings(max_examples=40, deadline=None, database=None, derandomize=True,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
huge_ints = st.one_of(st.integers(-10, 3000), st.integers(-2**40, 2**62), st.sampled_from([0, 999, 1000, 2**31, 2**63 - 1]))


def _set_card(data: bytes, extname: bytes, keyword: bytes, value: int) -> bytes:
    buffer = bytearray(data)
    start = buffer.rfind(b"XTENSION=", 0, buffer.find(b"EXTNAME = '" + extname))
    where = buffer.find(keyword.ljust(8) + b"= ", start, buffer.find(b"END" + b" " * 77, start))
    buffer[where + 10:where + 30] = str(value).rjust(20).encode()[-20:]
    return bytes(buffer)


def _bounded(path, seconds: float = 15.0) -> None:
    """load() ends as a cube or a StampError within ``seconds``, whatever the header declares."""
    began = time.monotonic()
    try:
        load([path], read_limits=READ_LIMITS)
    except StampError as exc:
        assert str(exc)
    assert time.monotonic() - began < seconds


@pytest.mark.parametrize("extname", [b"EXTRACT1D", b"INT_TIMES"])
def test_declared_fits_table_structure_is_bounded(seeds, tmp_path, extname):
    @STRUCTURE
    @given(keyword=st.sampled_from([b"TFIELDS", b"NAXIS", b"NAXIS1", b"NAXIS2", b"PCOUNT", b"GCOUNT", b"BITPIX"]),
           value=huge_ints)
    def run(keyword, value):
        path = tmp_path / "structure_x1dints.fits"
        path.write_bytes(_set_card(seeds["x1dints_new"], extname, keyword, value))
        _bounded(path)

    run()


def test_declared_hdf5_shapes_chunks_and_filters_are_bounded(tmp_path):
    @STRUCTURE
    @given(rows=st.integers(1, 10**6), columns=st.integers(1, 10**6), chunked=st.booleans(),
           compression=st.sampled_from([None, "gzip", "lzf"]), dtype=st.sampled_from(["f4", "f8", "i2"]))
    def run(rows, columns, chunked, compression, dtype):
        path = tmp_path / "structure_SpecData.h5"
        with h5py.File(path, "w") as h5:
            h5["time"] = np.linspace(60200.0, 60200.1, min(rows, 1000))
            h5["wave_1d"] = np.linspace(1.0, 3.0, min(columns, 1000))
            chunks = (min(rows, 64), min(columns, 64)) if chunked or compression else None
            h5.create_dataset("optspec", shape=(rows, columns), dtype=dtype, chunks=chunks, compression=compression)
        _bounded(path)

    run()
