"""Reading untrusted files in a child process with a deadline and a memory cap.

A damaged HDF5 file can make libhdf5 loop forever or crash the interpreter (a
segmentation fault in C code cannot be caught), and a tiny file can declare arrays
of many gigabytes.  :func:`read_files` identifies and reads files in a forked child
whose address space is capped (``RLIMIT_AS``) and which is killed when one file takes
longer than its deadline; a hang, a crash or exhausted memory becomes a problem naming
the file, and the remaining files are read by a fresh child.

A ZIP member (``InputFile.member``) is never extracted to disk: the reader inflates it
(or, stored uncompressed, copies it) into an anonymous in-memory file (``memfd``) that
the format readers open by path, checked against its declared size and CRC as it is
read.  Arrays that are views of a stored member are passed back as offsets into the ZIP
itself; those of a deflated member are exported like any other array.  While one file is
read, the members of the next three are inflated in threads (:class:`_MembersAhead`; inflating
releases the GIL), so a ZIP of many large members keeps two cores busy to its last member.

One child reads all the files of a load, one after the other, so a folder of
thousands of files costs one fork, not thousands.  Arrays come back without being
pickled: a view of a memory map of the input file (new-layout x1dints columns) is sent
as its byte offset, shape and strides and mapped again by the parent; a flag mask
(bool) travels bit-packed in the pickle; any other large array (a deflated member's columns,
arrays the reader computed) is copied by the child into one in-memory file per input file
(:class:`_Exports`), whose descriptor is sent with the file's result over the child's socket
and memory-mapped by the parent (a ``.npy`` file in the scratch folder where that cannot be done).  The parent only ever maps files read-only and copies from them once,
into the cube.

Limits come from the environment (:meth:`ReadLimits.from_env`): ``STAMP_READ_TIMEOUT_S``
(seconds per file, default 300), ``STAMP_READ_MAX_MEMORY`` (address space a reader may
add, default 8GiB) and ``STAMP_READ_ISOLATE`` (``0`` reads in this process, for trusted
local files).
"""

from __future__ import annotations

import contextlib
import faulthandler
import functools
import mmap
import os
import pickle
import resource
import select
import signal
import socket
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..problems import ReadError, UnsafeArchiveError
from ..settings import env_value_or_default, switch
from . import registry
from .block import SpectralBlock
from .containers import (DAMAGED_MEMBER_ERRORS, GiB, InputFile, _format_bytes, copy_member, damaged_member, member_head,
                         parse_size)
from .registry import HDF5_MAGIC

#: Arrays smaller than this travel inside the pickle; larger ones by memory map.
_INLINE_BYTES = 1 << 20
_ARRAY_FIELDS = ("wavelength", "flux", "error", "bad", "integration", "time_mjd")
_TOO_LARGE = "is too large to read into memory"


@dataclass(frozen=True)
class ReadLimits:
    """How untrusted files are read.

    Attributes
    ----------
    isolate : bool
        Read in a child process (True) or in this process (trusted local files only).
    timeout_s : float
        Seconds one file may take to be identified and read before its reader is killed.
    max_memory_bytes : int
        Address space the reader may use beyond what the process already had and the
        size of the file (which readers memory-map), enforced with ``RLIMIT_AS``.
    """

    isolate: bool = True
    timeout_s: float = 300.0
    max_memory_bytes: int = 8 * GiB

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "ReadLimits":
        """Limits from ``STAMP_READ_ISOLATE``, ``STAMP_READ_TIMEOUT_S``, ``STAMP_READ_MAX_MEMORY``."""
        environ = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            isolate=env_value_or_default(environ, "STAMP_READ_ISOLATE", switch, defaults.isolate),
            timeout_s=env_value_or_default(environ, "STAMP_READ_TIMEOUT_S", float, defaults.timeout_s, positive=True),
            max_memory_bytes=env_value_or_default(environ, "STAMP_READ_MAX_MEMORY", parse_size,
                                                  defaults.max_memory_bytes, positive=True),
        )


@dataclass
class ReadOutcome:
    """What reading one file gave: the reader's name (None if none claimed it) and blocks, or an error."""

    format: str | None = None
    blocks: list[SpectralBlock] | None = None
    error: str | None = None


Started = Callable[[int], None]
#: ``arrived(index, outcome)``: a file's outcome, final, as soon as it is known.
Arrived = Callable[[int, ReadOutcome], None]
#: ``finished(index, exported)``: the child has written file ``index``'s result; ``exported`` is the
#: descriptor of its exported arrays (:class:`_Exports`), or None.
Finished = Callable[[int, "int | None"], None]


def read_files(items: Sequence[InputFile], limits: ReadLimits, scratch: Path,
               started: Started | None = None, arrived: Arrived | None = None) -> list[ReadOutcome]:
    """Identify and read every file, in a child process unless ``limits.isolate`` is False.

    Parameters
    ----------
    items : sequence of InputFile
    limits : ReadLimits
    scratch : Path
        A folder that outlives the returned blocks (they may be memory maps of files in it).
    started : callable, optional
        ``started(index)`` as each file is begun (progress reports).
    arrived : callable, optional
        ``arrived(index, outcome)`` as each file's outcome is final, in this process, while the
        reader child goes on with the next file: the caller's work on one file overlaps the
        reading of the next.  Every outcome is also in the returned list.

    Returns
    -------
    list of ReadOutcome
        One per item, in order.
    """
    started = started or (lambda index: None)
    arrived = arrived or (lambda index, outcome: None)
    outcomes: list[ReadOutcome | None] = [None] * len(items)
    todo = []
    if not limits.isolate and any(item.member is not None for item in items):
        scratch.mkdir(parents=True, exist_ok=True)  # ZIP members are read through links made there
    for index, item in enumerate(items):
        try:
            empty = item.size == 0
        except OSError as exc:
            outcomes[index] = ReadOutcome(error=f"cannot be opened ({exc.strerror or exc})")
            continue
        if empty:  # decided without a reader (and without a child: floods of empty entries are common)
            outcomes[index] = ReadOutcome(error="is empty (0 bytes)")
        else:
            todo.append(index)
    if todo and not limits.isolate:
        ahead = _MembersAhead(items, todo, limits, scratch, MEMBERS_AHEAD)
        try:
            for index in todo:
                started(index)
                outcomes[index] = _read_one(items[index], limits, scratch, copied=ahead.take(index))
        finally:
            ahead.close()
    elif todo:
        scratch.mkdir(parents=True, exist_ok=True)
        _read_isolated(items, todo, limits, scratch, started, arrived, outcomes)
    return [o if o is not None else ReadOutcome(error="was not read") for o in outcomes]


#: ``export(block, path_read, k)``: the ``k``-th block read, made ready for the parent.
Export = Callable[[SpectralBlock, Path, int], SpectralBlock]


def _read_one(item: InputFile, limits: ReadLimits, scratch: Path, export: Export | None = None,
              copied: Future | None = None) -> ReadOutcome:
    """Identify and read one file; ``export(block, path_read)`` runs while a ZIP member is still open
    (``copied``: the member's copy begun ahead, see :class:`_MembersAhead`)."""
    outcome = ReadOutcome()
    try:
        with _readable(item, limits, scratch, copied) as path:
            entry = registry.identify_format(path)
            outcome.format = entry.name
            outcome.blocks = registry.read(path, item.source, entry)
            if export is not None:
                outcome.blocks = [export(block, path, k) for k, block in enumerate(outcome.blocks)]
    except ReadError as exc:
        outcome.error = str(exc)
    return outcome


@contextlib.contextmanager
def _readable(item: InputFile, limits: ReadLimits, scratch: Path, copied: Future | None = None):
    """A path the format readers can open for ``item``: its own, or a ZIP member in memory.

    ``copied`` is the member's :class:`_MemberCopy` begun ahead (see :class:`_MembersAhead`);
    without it the member is copied out now.
    """
    if item.member is None:
        yield item.path
        return
    copy = None
    if copied is not None:
        try:
            copy = copied.result()
        except MemoryError:  # another file's reading may have held the memory: try again under this file's cap
            copy = None
    if copy is None:
        copy = _MemberCopy(item, limits, scratch)
    try:
        yield copy.link
    finally:
        copy.close()


class _MemberCopy:
    """A ZIP member written where the format readers can open it by a path.

    A member goes into an anonymous in-memory file (``memfd``, freed when the last map of it
    goes) reached through a symbolic link named like the member, because readers take
    the name into account (``…_x1dints.fits``).  libhdf5 insists on the real path of a
    link, which an in-memory file has not; so an HDF5 member, a member larger than the
    reader's memory cap, or any member on a system without ``memfd``, gets a temporary file
    in ``scratch`` instead, removed by :meth:`close`.  The member is written with
    :func:`~stamp_engine.io.containers.copy_member` (ISA-L, in a thread when begun ahead: it
    releases the GIL); a damaged or refused member raises :class:`ReadError` and leaves nothing.
    """

    def __init__(self, item: InputFile, limits: ReadLimits, scratch: Path):
        member = item.member
        self.folder = Path(tempfile.mkdtemp(prefix="member-", dir=scratch))
        self.link = self.folder / Path(member.name).name
        self._handle = None
        in_memory = (hasattr(os, "memfd_create") and member.size <= limits.max_memory_bytes
                     and not member_head(item.path, member, len(HDF5_MAGIC)).startswith(HDF5_MAGIC))
        try:
            fd = (os.memfd_create(self.link.name, getattr(os, "MFD_CLOEXEC", 0)) if in_memory
                  else os.open(self.link, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
            self._handle = os.fdopen(fd, "w+b")
            if in_memory:
                os.symlink(f"/proc/{os.getpid()}/fd/{fd}", self.link)
            try:
                copy_member(item.path, member, self._handle)
                self._handle.flush()
            except UnsafeArchiveError as exc:
                raise ReadError(f"was refused: {exc}") from None
            except DAMAGED_MEMBER_ERRORS as exc:
                raise ReadError(damaged_member(exc)) from None
            except OSError as exc:
                raise ReadError(f"could not be read from the archive ({exc.strerror or exc})") from None
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close and remove the copy; maps a reader made stay valid after this (the data lives as long as they do)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        for leftover in self.folder.iterdir():
            leftover.unlink()
        self.folder.rmdir()


#: How many ZIP members are copied out ahead of the file being read (each within the reader's memory cap).
#: Three threads on two cores: with two, five equal members inflate in three rounds, the last on
#: one core while the other waits; with three the cores share the first three and then the last
#: two, 2.5 rounds.  10,000 × 2,040 ZIP (five 571 MB members), cold open to heatmap drawn in the
#: browser, medians of 3 in two alternating rounds: 6.43 → 5.79 s and 7.98 → 7.08 s.
MEMBERS_AHEAD = 3


class _MembersAhead:
    """Copies out the ZIP members of the coming files in threads while the current one is read.

    Members are independent and inflating one releases the GIL, so members inflate side by
    side (see :data:`MEMBERS_AHEAD`), the next ones while the current file is parsed and exported.  The
    member of the file being read and at most ``ahead`` after it are copied at a time (by
    ``ahead`` threads, in reading order), the later ones only while their declared sizes,
    with the current file's, stay within ``limits.max_memory_bytes``.  A member's errors
    stay its own: they are raised by its own file's reading (see :func:`_readable`).

    Parameters
    ----------
    items : sequence of InputFile
    order : list of int
        Indices of ``items`` in the order they will be read.
    ahead : int
        Members copied ahead at most (0: none, each member copied when its file is read).
    """

    def __init__(self, items: Sequence[InputFile], order: list[int], limits: ReadLimits, scratch: Path,
                 ahead: int = MEMBERS_AHEAD):
        self._items, self._order, self._limits, self._scratch = items, order, limits, scratch
        self._position = {index: k for k, index in enumerate(order)}
        self._ahead = ahead if any(items[i].member is not None for i in order) else 0
        self._pool = ThreadPoolExecutor(max_workers=self._ahead, thread_name_prefix="stamp-member") if self._ahead else None
        self._pending: dict[int, Future] = {}
        self._next = 0  # position in ``order`` of the first file whose copy is not begun

    def take(self, index: int) -> Future | None:
        """The copy of ``items[index]`` (None: not a member, or copied when read); begins the next ones."""
        if self._pool is None:
            return None
        position = self._position[index]
        if self._next <= position:  # not begun (the first file, or one after a stop for memory)
            self._next = position
            self._begin(self._next, room=None)
        room = self._limits.max_memory_bytes - sum(self._items[i].member.size for i in self._pending)
        while self._next < len(self._order) and self._next <= position + self._ahead and self._begin(self._next, room):
            room -= self._size(self._order[self._next - 1])
        return self._pending.pop(index, None)

    def _size(self, index: int) -> int:
        member = self._items[index].member
        return member.size if member is not None else 0

    def _begin(self, position: int, room: int | None) -> bool:
        """Begin copying the member at ``position`` (any size when ``room`` is None); False when it must wait."""
        index = self._order[position]
        item = self._items[index]
        if item.member is not None:
            if room is not None and item.member.size > room:
                return False
            self._pending[index] = self._pool.submit(_MemberCopy, item, self._limits, self._scratch)
        self._next = position + 1
        return True

    def close(self) -> None:
        """Stop copying; remove the copies never taken."""
        if self._pool is None:
            return
        for copied in self._pending.values():
            copied.cancel()
        self._pool.shutdown(wait=True)
        for copied in self._pending.values():
            if not copied.cancelled() and copied.exception() is None:
                copied.result().close()
        self._pending.clear()


# ------------------------------------------------------------------------------ parent
def _read_isolated(items, todo: list[int], limits: ReadLimits, scratch: Path, started: Started,
                   arrived: Arrived, outcomes: list) -> None:
    """Run children over ``todo`` until every file has an outcome; a failed file is skipped by the next child.

    Each file's result is loaded as soon as the child says it is written (and handed to
    ``arrived``), while the child reads the next file.
    """
    mapped: dict[Path, np.memmap] = {}
    # Import the format readers here, once: a forked child inherits them, where importing them
    # in every child (astropy.io.fits, h5py, the readers) cost more than reading the files.
    registry.readers()

    def finished(index: int, exported: int | None) -> None:
        outcomes[index] = _load_outcome(scratch / f"result-{index}.pickle", items[index].path, mapped, exported)
        arrived(index, outcomes[index])

    ahead = MEMBERS_AHEAD
    while todo:
        batch = todo if ahead else todo[:1]
        stuck, why, hung = _run_child(items, batch, limits, scratch, started, finished, ahead)
        later = batch[batch.index(stuck) + 1:] if stuck is not None else []
        if ahead and not hung and any(items[i].member is not None for i in later):
            # The child died while later members were being copied out beside this file: that
            # copy may be what crashed it. Read this file again alone before blaming it.
            ahead, todo = 0, todo[todo.index(stuck):]
            continue
        ahead = MEMBERS_AHEAD
        if stuck is not None:
            outcomes[stuck] = ReadOutcome(error=why)
            arrived(stuck, outcomes[stuck])
            todo = todo[todo.index(stuck) + 1:]
        else:
            for index in batch:  # the child ended without a word about these: should not happen
                if outcomes[index] is None:
                    outcomes[index] = ReadOutcome(error=why or "was not read (the reader process stopped)")
                    arrived(index, outcomes[index])
            todo = todo[len(batch):]


def _run_child(items, todo: list[int], limits: ReadLimits, scratch: Path, started: Started,
               finished: Finished, ahead: int = MEMBERS_AHEAD):
    """One child reading ``todo`` in order (copying out up to ``ahead`` ZIP members ahead);
    ``finished(index, exported)`` as the child has written a file's result.

    Returns
    -------
    stuck : int or None
        The file the child was reading when it hung or died.
    why : str or None
        What happened to it.
    hung : bool
        Whether it was stopped for taking longer than its deadline.
    """
    parent_end, child_end = _channel()
    pid = os.fork()
    if pid == 0:  # child: never returns
        parent_end.close()
        _child_main(items, todo, limits, scratch, child_end, ahead)
    child_end.close()
    current: int | None = None
    began = time.monotonic()
    try:
        with parent_end:
            # poll, not select: select() refuses descriptors from 1024 up, which a busy server reaches
            readable = select.poll()
            readable.register(parent_end, select.POLLIN)
            while True:
                wait = limits.timeout_s - (time.monotonic() - began)
                ready = readable.poll(max(wait, 0.0) * 1000) if wait > 0 else []
                if not ready:
                    _kill(pid)
                    return current, (f"reading was stopped after {limits.timeout_s:g} s (STAMP_READ_TIMEOUT_S): "
                                     "the file makes the reader hang, it is probably damaged"), True
                message, fds = _receive(parent_end)
                if not message:
                    break
                kind, index = message.split(b" ", 1)
                index = int(index)
                if kind == b"S":
                    current, began = index, time.monotonic()
                    started(index)
                else:
                    current = None
                    try:
                        finished(index, fds[0] if fds else None)  # the child reads on meanwhile
                    finally:
                        for fd in fds:
                            os.close(fd)
                    began = time.monotonic()  # its deadline restarts at its next "S"
    except BaseException:
        _kill(pid)
        raise
    _, status = os.waitpid(pid, 0)
    if current is None:
        return None, None, False
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
        why = (f"made the reader crash ({name}): the file is damaged or was made to crash readers"
               if number != signal.SIGKILL else
               "made the reader exceed its memory (killed by the system)")
    else:
        why = f"made the reader stop unexpectedly (exit status {os.WEXITSTATUS(status)})"
    return current, why, False


#: Every message is this long ("S 12" padded with spaces), so a stream socket needs no framing.
_MESSAGE_BYTES = 32


def _channel() -> tuple[socket.socket, socket.socket]:
    """The parent's and the child's ends of the reader's channel: one message per event ("S i":
    file i begun, "D i": its result written, with the descriptor of its exported arrays, see
    :class:`_Exports`).  A packet socket keeps each message whole; where there is none (macOS),
    a stream socket with messages of fixed length."""
    try:
        return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    except (AttributeError, OSError):
        return socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)


def _message(kind: str, index: int) -> bytes:
    return f"{kind} {index}".encode().ljust(_MESSAGE_BYTES)


def _receive(channel: socket.socket) -> tuple[bytes, list[int]]:
    """One message and the descriptors sent with it; an empty message when the child has gone."""
    message, fds = b"", []
    while len(message) < _MESSAGE_BYTES:
        part, received, _, _ = socket.recv_fds(channel, _MESSAGE_BYTES - len(message), _MAX_FDS)
        fds += received
        if not part:
            for fd in fds:  # a child that died while sending: nothing of this message is used
                os.close(fd)
            return b"", []
        message += part
    return message.rstrip(), fds


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _load_outcome(path: Path, source_path: Path, mapped: dict, exported: int | None = None) -> ReadOutcome:
    """The outcome the child wrote to ``path``, its arrays mapped (``exported``: the descriptor of
    the in-memory file of its exported arrays, see :class:`_Exports`; mapped, not kept open)."""
    with open(path, "rb") as handle:
        outcome: ReadOutcome = pickle.load(handle)  # written by our own child, from our own types
    path.unlink()
    if outcome.blocks:
        exports = mmap.mmap(exported, 0, access=mmap.ACCESS_READ) if exported is not None else None
        outcome.blocks = [_import_block(b, source_path, mapped, exports) for b in outcome.blocks]
    return outcome


def _import_block(block: SpectralBlock, source_path: Path, mapped: dict, exported: mmap.mmap | None) -> SpectralBlock:
    changes = {}
    for name in _ARRAY_FIELDS:
        value = getattr(block, name)
        if isinstance(value, tuple) and value and value[0] in ("file", "npy", "bits", "memfd"):
            changes[name] = _import_array(value, source_path, mapped, exported)
    return replace(block, **changes)


def _import_array(ref: tuple, source_path: Path, mapped: dict, exported: mmap.mmap | None = None) -> np.ndarray:
    if ref[0] == "npy":
        return np.load(ref[1], mmap_mode="r", allow_pickle=False)
    if ref[0] == "memfd":
        if exported is None:
            raise ReadError("the reader's exported arrays did not arrive")
        _, offset, shape, dtype = ref
        return np.ndarray(shape, dtype=dtype, buffer=exported, offset=offset)  # read-only: the map is
    if ref[0] == "bits":
        _, packed, shape = ref
        return np.unpackbits(packed, axis=-1, count=shape[-1]).view(bool).reshape(shape)
    _, offset, shape, strides, dtype = ref
    raw = mapped.get(source_path)
    if raw is None:
        raw = mapped[source_path] = np.memmap(source_path, dtype=np.uint8, mode="r")
    # ndarray() checks that offset, shape and strides stay inside the mapped file.
    return np.ndarray(shape, dtype=dtype, buffer=raw, offset=offset, strides=strides)


# ------------------------------------------------------------------------------- child
def _child_main(items, todo: list[int], limits: ReadLimits, scratch: Path, channel: socket.socket,
                ahead: int) -> None:
    status = 0
    try:
        members_ahead = _MembersAhead(items, todo, limits, scratch, ahead)
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C stops the child at once, the parent reports it
        _die_with_parent()
        faulthandler.disable()  # a crash is reported by the parent, naming the file, not as a C stack dump
        with channel:
            for index in todo:
                item = items[index]
                channel.sendall(_message("S", index))
                copied = members_ahead.take(index)  # before the cap: its threads' stacks are in what is in use
                _cap_memory(limits.max_memory_bytes, item)
                # The child's own deadline, should the parent be gone: SIGALRM's default action ends
                # the process even inside a C loop of libhdf5, where no Python handler would run.
                signal.signal(signal.SIGALRM, signal.SIG_DFL)
                signal.alarm(int(limits.timeout_s) + 10)
                with _Exports() as exports:
                    outcome = _read_one_capped(item, limits, scratch, functools.partial(
                        _export_block, item=item, scratch=scratch, index=index, exports=exports), copied)
                    target = scratch / f"result-{index}.pickle"
                    with open(target.with_suffix(".partial"), "wb") as handle:
                        pickle.dump(outcome, handle, protocol=pickle.HIGHEST_PROTOCOL)
                    os.replace(target.with_suffix(".partial"), target)
                    socket.send_fds(channel, [_message("D", index)], exports.descriptors())
            members_ahead.close()
    except BaseException:  # noqa: BLE001 — the parent reports the file the child stopped on
        status = 3
    finally:
        os._exit(status)


def _die_with_parent() -> None:
    """Ask Linux to kill this child when its parent dies (a killed job leaves no reader spinning)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the alarm set for each file still ends the child


def _read_one_capped(item: InputFile, limits: ReadLimits, scratch: Path, export: Export,
                     copied: Future | None = None) -> ReadOutcome:
    try:
        outcome = _read_one(item, limits, scratch, export, copied)
    except MemoryError:
        outcome = ReadOutcome(error=_TOO_LARGE)
    if outcome.error == _TOO_LARGE:
        outcome.error = (f"needs more memory than a reader may use ({_format_bytes(limits.max_memory_bytes)}, "
                         "STAMP_READ_MAX_MEMORY): it is too large or declares more data than it holds")
    return outcome


def _cap_memory(budget: int, item: InputFile) -> None:
    """Let this process grow by ``budget`` bytes plus the file's size (readers memory-map it;
    a ZIP member is held in memory as it is read)."""
    try:
        with open("/proc/self/statm") as handle:
            in_use = int(handle.read().split()[0]) * mmap.PAGESIZE
    except (OSError, ValueError, IndexError):
        return  # not Linux: no cap, the deadline still applies
    limit = in_use + budget + item.size
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _export_block(block: SpectralBlock, path_read: Path, k: int, *, item: InputFile, scratch: Path,
                  index: int, exports: "_Exports | None" = None) -> SpectralBlock:
    changes: dict[str, Any] = {}
    for name in _ARRAY_FIELDS:
        value = getattr(block, name)
        if isinstance(value, np.ndarray) and value.nbytes >= _INLINE_BYTES:
            changes[name] = _export_array(value, item, path_read, scratch / f"block-{index}-{k}-{name}.npy", exports)
    return replace(block, **changes) if changes else block


def _export_array(array: np.ndarray, item: InputFile, path_read: Path, target: Path,
                  exports: "_Exports | None" = None) -> tuple:
    """A reference to ``array``: where it lies in ``item.path``, else a copy in ``exports`` (the
    file's in-memory export, :class:`_Exports`), else a ``.npy`` file written now.

    ``path_read`` is what the reader opened: ``item.path`` itself, or the in-memory copy of a
    ZIP member, whose views lie in the ZIP only when the member is stored uncompressed.
    """
    root = array
    while isinstance(root.base, np.ndarray):
        root = root.base
    member = item.member
    mapped_file = root.filename if isinstance(root, np.memmap) and isinstance(root.base, mmap.mmap) else None
    if member is None:
        in_file, shift = bool(mapped_file) and Path(mapped_file) == path_read.resolve(), 0
    else:  # numpy names a map by the path it was given or by what that resolves to (the memfd)
        in_file = member.stored and bool(mapped_file) and str(mapped_file) in (
            os.path.abspath(path_read), os.path.realpath(path_read))
        shift = member.data_offset
    if in_file:
        offset = array.__array_interface__["data"][0] - root.__array_interface__["data"][0] + root.offset + shift
        return ("file", offset, array.shape, array.strides, array.dtype)
    if array.dtype == bool and array.ndim >= 1:
        # A flag mask travels packed inside the pickle (1/8 of its bytes): cheaper than writing
        # and mapping a .npy of one byte per value, the largest cost of a read after the columns.
        return ("bits", np.packbits(array, axis=-1), array.shape)
    copied = exports.add(array) if exports is not None else None
    if copied is not None:
        return copied
    np.save(target, np.asarray(array), allow_pickle=False)
    return ("npy", str(target))


#: Most descriptors one message may carry (Linux allows 253); one is sent per file.
_MAX_FDS = 4


class _Exports:
    """The arrays a file's reading made (not views of the file), copied into one anonymous
    in-memory file (``memfd``) whose descriptor travels to the parent with the file's result.

    The parent maps it read-only and copies from it into the cube, as from an input file.
    Writing these arrays as ``.npy`` files in the scratch folder instead (which is what
    happens without ``memfd``, or when a copy fails) cost, for a ZIP of five deflated
    2,000 × 2,040 members, about 1.7 CPU seconds of file writes (``perf``: buffered writes
    and the file system), on a 2-core server the time to inflate another member; the
    in-memory file is freed with its last map, so nothing is left behind if a process dies.
    """

    def __init__(self) -> None:
        self._fd: int | None = None
        self._size = 0
        self._usable = hasattr(os, "memfd_create")

    def add(self, array: np.ndarray) -> tuple | None:
        """``("memfd", offset, shape, dtype)`` of a copy of ``array``; None when it cannot be made."""
        if not self._usable or array.dtype.hasobject:
            return None
        offset = -(-self._size // mmap.ALLOCATIONGRANULARITY) * mmap.ALLOCATIONGRANULARITY
        try:
            if self._fd is None:
                self._fd = os.memfd_create("stamp-exported-arrays", getattr(os, "MFD_CLOEXEC", 0))
            os.ftruncate(self._fd, offset + array.nbytes)
            with mmap.mmap(self._fd, array.nbytes, offset=offset) as region:
                copy = np.ndarray(array.shape, dtype=array.dtype, buffer=region)
                copy[...] = array
                del copy  # the map cannot close while a view of it exists
        except (OSError, ValueError, MemoryError):
            self._usable = False  # e.g. the reader's memory cap: the rest go to .npy files
            if self._fd is not None:
                os.ftruncate(self._fd, self._size)
            return None
        self._size = offset + array.nbytes
        return ("memfd", offset, array.shape, array.dtype)

    def descriptors(self) -> list[int]:
        """The descriptor to send with the file's result (none when nothing was copied)."""
        return [self._fd] if self._fd is not None and self._size else []

    def __enter__(self) -> "_Exports":
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

