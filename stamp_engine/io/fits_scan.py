"""Reading FITS headers and binary-table rows without astropy objects: header cards, TFORMs.

A generic scanner for readers that walk a FITS file one header at a time (see
:mod:`stamp_engine.io.formats.x1dints`, whose old layout holds one table per integration):

* :func:`header_cards` reads one header as the raw value field of each keyword, parsed
  only when asked for (:func:`card_value`, :func:`card_text`, :func:`card_float`,
  :func:`card_int`); :func:`data_bytes` and :func:`padded` say how far to skip to the next;
* :func:`table_columns` builds, from ``TTYPEn``/``TFORMn``/``TSCALn``/``TZEROn``/``TUNITn``,
  a record dtype that picks the wanted columns out of a binary-table row at their byte
  offsets, so rows are read through a memory map of the file with no conversion;
  :func:`numbers`, :func:`integers` and :func:`physical` apply ``TSCAL``/``TZERO``.

Limits are the FITS standard's (FITS 4.0): every count from a header is checked before a
loop runs over it, and a header that contradicts itself is a :class:`ReadError`.
Nothing here knows about JWST.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

from ..problems import ReadError

#: Bytes of a FITS block: headers and data are padded to a multiple of it.
BLOCK = 2880
#: The FITS standard's ceilings (FITS 4.0 §4.4.1.1, §7.3.1): NAXIS ≤ 999 axes, TFIELDS ≤ 999 columns.
MAX_NAXIS = 999
MAX_TFIELDS = 999

#: Bytes per element of each FITS binary-table type code.
TFORM_BYTES = {"L": 1, "B": 1, "I": 2, "J": 4, "K": 8, "A": 1, "E": 4, "D": 8, "C": 8, "M": 16,
                "P": 8, "Q": 16}
TFORM_NUMPY = {"B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "E": ">f4", "D": ">f8"}
TFORM = re.compile(r"^\s*(\d*)\s*([LXBIJKAEDCMPQ])")
STRING_VALUE = re.compile(r"\s*'((?:[^']|'')*)'")


# --------------------------------------------------------------------------- header cards


def header_cards(handle: BinaryIO) -> tuple[dict[str, str], int] | None:
    """Read one header from ``handle``: the raw value field of each keyword, and the header's byte length.

    Returns None when the file ends inside the header.  Values stay unparsed (columns 11-80 of
    the card) until :func:`card_value` is asked for one: a table header has ~100 cards and a
    reader needs a dozen of them.
    """
    cards: dict[str, str] = {}
    length = 0
    while True:
        block = handle.read(BLOCK)
        if len(block) < BLOCK:
            return None
        length += BLOCK
        text = block.decode("ascii", errors="replace")
        for start in range(0, BLOCK, 80):
            keyword = text[start:start + 8].rstrip()
            if keyword == "END":
                return cards, length
            if text[start + 8:start + 10] == "= " and keyword not in cards:
                cards[keyword] = text[start + 10:start + 80]


def card_value(cards: dict[str, str], key: str) -> str | None:
    """A card's value as text: a quoted string unquoted (``''`` → ``'``), else the text before any comment."""
    raw = cards.get(key)
    if raw is None:
        return None
    match = STRING_VALUE.match(raw)
    if match:
        return match.group(1).replace("''", "'").rstrip()
    text = raw.split("/", 1)[0].strip()
    return text or None


def card_text(cards: dict[str, str], key: str, default: str = "") -> str:
    value = card_value(cards, key)
    return default if value is None else value.strip()


def card_float(cards: dict[str, str], key: str) -> float:
    value = card_value(cards, key)
    try:
        return float(value.upper().replace("D", "E")) if value else np.nan
    except ValueError:
        return np.nan


def card_int(cards: dict[str, str], key: str, default: int | None = None) -> int | None:
    number = card_float(cards, key)
    return int(number) if np.isfinite(number) and number == int(number) else default


def data_bytes(cards: dict[str, str]) -> int:
    """Bytes of the HDU's data (without the padding to 2880), or -1 when the header does not say."""
    naxis = card_int(cards, "NAXIS")
    bitpix = card_int(cards, "BITPIX")
    if naxis is None or bitpix is None or not 0 <= naxis <= MAX_NAXIS:
        return -1
    if naxis == 0:
        return 0
    size = 1
    for axis in range(1, naxis + 1):
        length = card_int(cards, f"NAXIS{axis}")
        if length is None or length < 0:
            return -1
        size *= length
    return abs(bitpix) // 8 * card_int(cards, "GCOUNT", 1) * (size + card_int(cards, "PCOUNT", 0))


def padded(n_bytes: int) -> int:
    return n_bytes + (-n_bytes % BLOCK)



# --------------------------------------------------------------------------- table columns


@dataclass(frozen=True)
class Column:
    """One binary-table column the reader uses."""

    repeat: int
    scale: float  # TSCAL
    zero: float  # TZERO
    unit: str | None
    low_byte: bool = False  # read as the least significant byte of each big-endian integer


@dataclass(frozen=True)
class Columns:
    """A record dtype picking the wanted columns out of a table row, at their byte offsets."""

    dtype: np.dtype
    columns: dict[str, Column]


def table_columns(cards: dict[str, str], wanted: tuple[str, ...], what: str,
                  low_byte: tuple[str, ...] = ()) -> Columns:
    """The record dtype of the ``wanted`` columns (matched case-insensitively) of a binary table.

    Parameters
    ----------
    cards : dict
        The table's header (:func:`header_cards`).
    wanted : tuple of str
        Upper-case column names; columns of other names, or of a type without a NumPy
        equivalent, are skipped (their bytes still count in the row).
    what : str
        The table, as error messages name it (``"EXTRACT1D"``).
    low_byte : tuple of str
        Integer columns of a flag mask to read as the least significant byte of each
        big-endian value (field ``"low"``) when ``TSCAL`` is 1 and ``TZERO`` even: adding an
        even offset leaves the low bits as stored, so ``low & 1`` is bit 0 without
        converting the column (a converted uint32 copy of a big column costs as much as the
        data).  ``Column.zero`` keeps the offset; ``Column.unit`` is None.

    Raises
    ------
    ReadError
        No or too many ``TFIELDS``, an unreadable ``TFORM``, or rows whose formats do not add
        up to ``NAXIS1``.
    """
    n_fields = field_count(cards, what)
    offset = 0
    names: list[str] = []
    formats: list[Any] = []
    offsets: list[int] = []
    columns: dict[str, Column] = {}
    for i in range(1, n_fields + 1):
        name = card_text(cards, f"TTYPE{i}").upper()
        match = TFORM.match(card_text(cards, f"TFORM{i}"))
        if match is None:
            raise ReadError(f"{what} column {name or i} has an unreadable format")
        repeat = int(match.group(1) or 1)
        code = match.group(2)
        width = (repeat + 7) // 8 if code == "X" else repeat * TFORM_BYTES[code]
        if name in wanted and name not in columns and code in TFORM_NUMPY and repeat >= 1:
            scale = card_float(cards, f"TSCAL{i}")
            zero = card_float(cards, f"TZERO{i}")
            column = Column(repeat, 1.0 if np.isnan(scale) else scale, 0.0 if np.isnan(zero) else zero,
                             card_value(cards, f"TUNIT{i}"))
            base = np.dtype(TFORM_NUMPY[code])
            if name in low_byte and base.kind in "iu" and column.scale == 1.0 and column.zero % 2 == 0:
                base = np.dtype({"names": ["low"], "formats": ["u1"], "offsets": [base.itemsize - 1],
                                 "itemsize": base.itemsize})
                column = Column(repeat, 1.0, column.zero, None, low_byte=True)
            names.append(name)
            formats.append(base if repeat == 1 else (base, (repeat,)))
            offsets.append(offset)
            columns[name] = column
        offset += width
    if offset != card_int(cards, "NAXIS1"):
        raise ReadError(f"{what} table rows do not match their column formats (corrupt header)")
    dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": max(offset, 1)})
    return Columns(dtype, columns)


def field_count(cards: dict[str, str], what: str) -> int:
    """``TFIELDS``, checked against the standard's ceiling before any loop runs over the columns."""
    n_fields = card_int(cards, "TFIELDS")
    if n_fields is None:
        raise ReadError(f"{what} is not a binary table (no TFIELDS)")
    if not 0 <= n_fields <= MAX_TFIELDS:
        raise ReadError(f"{what} declares TFIELDS = {n_fields} columns; the FITS standard allows 0 to {MAX_TFIELDS} "
                        "(a corrupt or crafted header)")
    return n_fields


def columns_key(cards: dict[str, str], what: str) -> tuple[str | None, ...]:
    """The raw cards that define a table's columns: tables with equal keys share one record dtype."""
    n_fields = field_count(cards, what)
    return (cards.get("NAXIS1"), *(cards.get(f"{prefix}{i}") for i in range(1, n_fields + 1)
                                   for prefix in ("TTYPE", "TFORM", "TSCAL", "TZERO", "TUNIT")))


def numbers(values: np.ndarray, column: Column) -> np.ndarray:
    """Physical values of a scalar numeric column, float64."""
    out = np.asarray(values, dtype=np.float64)
    if column.scale != 1.0 or column.zero != 0.0:
        out = out * column.scale + column.zero
    return out


def integers(values: np.ndarray, column: Column) -> np.ndarray:
    if column.scale == 1.0 and column.zero == int(column.zero):
        return np.asarray(values, dtype=np.int64) + int(column.zero)
    return np.rint(numbers(values, column)).astype(np.int64)


def physical(values: np.ndarray, column: Column) -> np.ndarray:
    """A spectral column as stored (a view) unless TSCAL/TZERO ask for a conversion."""
    if column.scale == 1.0 and column.zero == 0.0:
        return values
    return np.asarray(values, dtype=np.float64) * column.scale + column.zero

