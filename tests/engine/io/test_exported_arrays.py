"""Arrays a reader child makes (a deflated ZIP member's columns, computed arrays) reach the parent
through one in-memory file per input file (``sandbox._Exports``), not ``.npy`` files on disk.

The child's descriptor travels with the file's result over the reader's socket; the parent maps
it read-only.  Where no in-memory file can be made the arrays still arrive, as ``.npy`` files.
"""

from __future__ import annotations

import mmap
import os
import zipfile

import numpy as np
import pytest

import stamp_engine
from stamp_engine.io import sandbox
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.x1dints import write_segments


def _segments(folder):
    obs = make_observation("transit", n_integrations=60, wavelength=np.linspace(1.0, 2.0, 50), cadence_s=30.0,
                           seed=5, nan_columns=(3,))
    obs.flux = obs.flux.copy()
    obs.flux[7, 11] = np.nan
    return write_segments(folder, obs, n_segments=3)


def _deflated_zip(paths, target):
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in paths:
            archive.write(path, path.name)
    return target


def test_a_deflated_zip_reaches_the_parent_without_npy_files_and_equals_the_plain_files(tmp_path, monkeypatch):
    paths = _segments(tmp_path / "plain")
    archive = _deflated_zip(paths, tmp_path / "segments.zip")
    monkeypatch.setattr(sandbox, "_INLINE_BYTES", 1024)  # these small columns are exported too

    def no_npy(*args, **kwargs):
        raise AssertionError("an exported array was written as a .npy file")

    plain = stamp_engine.load(paths)
    monkeypatch.setattr(sandbox.np, "save", no_npy)  # the forked reader inherits it: it must not be called
    zipped = stamp_engine.load([archive])

    assert not [p for p in zipped.problems if p.severity == "error"], [str(p) for p in zipped.problems]
    assert zipped.flux.tobytes() == plain.flux.tobytes()
    assert zipped.error.tobytes() == plain.error.tobytes()
    np.testing.assert_array_equal(zipped.time.mjd, plain.time.mjd)
    assert np.isnan(zipped.flux).any()


def test_an_exported_array_comes_back_equal_and_read_only(tmp_path):
    source = np.arange(3 * 4000, dtype=">f8").reshape(3, 4000)[:, ::2]  # strided, big-endian: as FITS columns
    mask = np.zeros((3, 2000), dtype=np.int32)
    with sandbox._Exports() as exports:
        first, second = exports.add(source), exports.add(mask)
        [fd] = exports.descriptors()
        exported = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    assert first[0] == second[0] == "memfd" and second[1] % mmap.ALLOCATIONGRANULARITY == 0
    back = sandbox._import_array(first, tmp_path / "unused.fits", {}, exported)
    np.testing.assert_array_equal(back, source)
    assert back.dtype == source.dtype and not back.flags.writeable
    np.testing.assert_array_equal(sandbox._import_array(second, tmp_path / "unused.fits", {}, exported), mask)
    with pytest.raises(Exception, match="did not arrive"):
        sandbox._import_array(first, tmp_path / "unused.fits", {}, None)


def test_without_an_in_memory_file_the_arrays_go_to_npy_files(tmp_path, monkeypatch):
    def refused(*args, **kwargs):
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(os, "memfd_create", refused)
    array = np.linspace(0.0, 1.0, 300_000)
    item = sandbox.InputFile(tmp_path / "x.fits", "x.fits")
    with sandbox._Exports() as exports:
        ref = sandbox._export_array(array, item, tmp_path / "x.fits", tmp_path / "array.npy", exports)
        assert exports.descriptors() == []
    assert ref == ("npy", str(tmp_path / "array.npy"))
    np.testing.assert_array_equal(sandbox._import_array(ref, tmp_path / "x.fits", {}), array)


def test_a_stream_socket_carries_the_same_messages_where_there_is_no_packet_socket(tmp_path, monkeypatch):
    import socket

    paths = _segments(tmp_path / "plain")
    archive = _deflated_zip(paths, tmp_path / "segments.zip")
    monkeypatch.setattr(sandbox, "_INLINE_BYTES", 1024)
    packets = stamp_engine.load([archive])
    made = []

    def stream_pair():
        made.append(socket.SOCK_STREAM)
        return socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)  # macOS has no SOCK_SEQPACKET

    monkeypatch.setattr(sandbox, "_channel", stream_pair)
    streamed = stamp_engine.load([archive, *paths[:1]])
    assert made
    assert [str(p) for p in streamed.problems if p.severity == "error"] == []
    # the ZIP's segments and the plain copy of the first one: the overlap is said, the values are the ZIP's
    assert any("more than once" in p.message for p in streamed.problems)
    assert streamed.flux.tobytes() == packets.flux.tobytes()
    assert streamed.error.tobytes() == packets.error.tobytes()
