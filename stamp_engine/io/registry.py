"""One reader per format behind one :func:`read`, chosen by content.

Modelled on ``astropy.io.registry``: each format module in
:mod:`stamp_engine.io.formats` calls :func:`register_reader` at import time with an
``identify`` function that looks at the file's content (never its name) and a
``read`` function returning :class:`~stamp_engine.io.block.SpectralBlock` objects.
Every module in that package is imported on first use, so adding a format is
adding one file there.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..problems import ReadError
from .block import SpectralBlock

FITS_MAGIC = b"SIMPLE  ="
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"

Identify = Callable[[Path, bytes], bool]
Reader = Callable[[Path, str], Sequence[SpectralBlock]]


@dataclass(frozen=True)
class ReaderEntry:
    """A registered format: its name, how to recognise it, how to read it."""

    name: str
    identify: Identify
    read: Reader
    priority: int = 0
    description: str = ""


# Filled by the format modules as they are imported; read-only after that.
_READERS: dict[str, ReaderEntry] = {}
_formats_imported = False


def register_reader(
    name: str,
    identify: Identify,
    read: Reader,
    *,
    priority: int = 0,
    description: str = "",
) -> None:
    """Register a reader.

    Parameters
    ----------
    name : str
        Format name shown by ``stamp inspect`` (e.g. ``"x1dints-new"``).
    identify : callable
        ``identify(path, head) -> bool`` where ``head`` is the first 4 KiB of the file.
        Must not raise for files of other formats.
    read : callable
        ``read(path, source) -> list[SpectralBlock]``; ``source`` is the name to show
        the user.  Raises :class:`~stamp_engine.problems.ReadError` for unusable input.
    priority : int
        Higher priorities are asked first when several formats claim a file.
    """
    _READERS[name] = ReaderEntry(name, identify, read, priority, description)


def _import_formats() -> None:
    global _formats_imported
    if _formats_imported:
        return
    from . import formats

    for module in pkgutil.iter_modules(formats.__path__):
        importlib.import_module(f"{formats.__name__}.{module.name}")
    _formats_imported = True


def readers() -> list[ReaderEntry]:
    """Registered readers, highest priority first."""
    _import_formats()
    return sorted(_READERS.values(), key=lambda r: -r.priority)


def read_head(path: Path, size: int = 4096) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(size)


def identify_format(path: str | Path) -> ReaderEntry:
    """Find the reader for a file by its content.

    Raises
    ------
    ReadError
        With a message saying what the file looks like when no reader claims it.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        head = read_head(path)
    except OSError as exc:
        raise ReadError(f"cannot be opened ({exc.strerror or exc})") from exc
    if size == 0:
        raise ReadError("is empty (0 bytes)")
    for entry in readers():
        try:
            if entry.identify(path, head):
                return entry
        except Exception:  # an identify function must never sink the upload
            continue
    raise ReadError(describe_unknown(head))


def describe_unknown(head: bytes) -> str:
    """A sentence saying what an unrecognised file looks like."""
    if head.startswith(FITS_MAGIC):
        return (
            "is a FITS file but not a time series STAMP can read "
            "(no EXTRACT1D spectra with INT_TIMES)"
        )
    if head.startswith(HDF5_MAGIC):
        return "is an HDF5 file without time-series spectra (no flux, wavelength and time datasets)"
    if head.startswith(ZIP_MAGIC) or head.startswith(EMPTY_ZIP_MAGIC):
        return "is a ZIP archive inside the upload; nested archives are not opened"
    if head.lstrip().lower().startswith((b"<!doctype html", b"<html")):
        return "is an HTML page, not a FITS or HDF5 file (a failed download?)"
    return "is neither FITS nor HDF5 (unrecognised content)"


def read(path: str | Path, source: str | None = None, entry: ReaderEntry | None = None) -> list[SpectralBlock]:
    """Read one file with the reader its content calls for.

    Parameters
    ----------
    path : str or Path
        The file.
    source : str, optional
        Name to show the user; defaults to the file name.
    entry : ReaderEntry, optional
        The reader :func:`identify_format` already chose for this file (saves a second look).

    Returns
    -------
    list of SpectralBlock

    Raises
    ------
    ReadError
        The file cannot be used; the message says why.
    """
    path = Path(path)
    source = source or path.name
    entry = entry or identify_format(path)
    try:
        blocks = list(entry.read(path, source))
    except ReadError:
        raise
    except MemoryError:
        raise ReadError("is too large to read into memory") from None
    except Exception as exc:  # a broken file must become a message, never a traceback
        raise ReadError(
            f"looks like {entry.name} but could not be read ({type(exc).__name__}: {exc})"
        ) from exc
    if not blocks:
        raise ReadError(f"looks like {entry.name} but holds no spectra")
    return blocks
