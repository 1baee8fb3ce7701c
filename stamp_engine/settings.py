"""Settings read from ``STAMP_*`` environment variables: one rule for the engine and the dashboard.

A variable that is unset or blank takes its default; any other value is parsed, and a value
that cannot be used is a :class:`ValueError` naming the variable and the value
(``STAMP_ZIP_MAX_FILES='lots' is not a positive number``).  The dashboard refuses to start
on one (:class:`dashboard.server.config.ConfigError`); the engine's readers, which also run
in notebooks, warn with the same words and keep the default (:func:`env_value_or_default`).
"""

from __future__ import annotations

import os
import warnings
from typing import Callable, Mapping, MutableMapping, TypeVar

T = TypeVar("T")
D = TypeVar("D")

#: Values that switch a yes/no setting off (``STAMP_READ_ISOLATE=0``); any other value leaves it on.
OFF_WORDS = ("0", "false", "no", "off")


def env_value(environ: Mapping[str, str], name: str, parse: Callable[[str], T], default: D, *,
              positive: bool = False, expected: str | None = None) -> T | D:
    """The value of variable ``name`` in ``environ``, read by ``parse``; ``default`` when unset or blank.

    Parameters
    ----------
    environ : mapping
        The environment (``os.environ``, or a dict in tests).
    name : str
        Variable, e.g. ``"STAMP_ZIP_MAX_FILES"``.
    parse : callable
        Text (stripped) → value; raises :class:`ValueError` on text it cannot read
        (``int``, ``float``, :func:`stamp_engine.io.containers.parse_size` …).
    default
        Returned when the variable is unset or blank; never parsed.
    positive : bool
        The value must be above zero (NaN is not).
    expected : str, optional
        What a usable value is, for the message (default: "a positive number", "a whole
        number" for ``int``, "a number" for ``float``, else "a value it can use").

    Raises
    ------
    ValueError
        ``"NAME='text' is not <expected>"``.
    """
    raw = environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = parse(raw.strip())
    except ValueError:
        value = None
    if value is None or (positive and not value > 0):
        raise ValueError(f"{name}={raw!r} is not {expected or _expected(parse, positive)}")
    return value


def env_value_or_default(environ: Mapping[str, str], name: str, parse: Callable[[str], T], default: D, *,
                         positive: bool = False, expected: str | None = None) -> T | D:
    """:func:`env_value`, but an unusable value gives ``default`` with a :class:`UserWarning` saying so.

    For the engine's readers: a mistyped limit must not stop a notebook from loading files.
    """
    try:
        return env_value(environ, name, parse, default, positive=positive, expected=expected)
    except ValueError as exc:
        warnings.warn(f"{exc}; using the default {default}", stacklevel=3)
        return default


def switch(text: str) -> bool:
    """A yes/no setting: False for one of :data:`OFF_WORDS` (any case), True for anything else."""
    return text.strip().lower() not in OFF_WORDS


#: NumPy's own switch for asking the kernel for transparent huge pages on arrays of 4 MB and more.
NUMPY_HUGEPAGE_VARIABLE = "NUMPY_MADVISE_HUGEPAGE"


def numpy_without_huge_pages(environ: MutableMapping[str, str] | None = None) -> bool:
    """Stop NumPy asking for transparent huge pages in this process and the processes it starts.

    NumPy marks every large array ``madvise(MADV_HUGEPAGE)``.  Where the kernel's THP defrag
    setting is ``madvise`` (the default on many distributions and VMs), each such page fault may
    compact memory first: measured on a 2-core VM, touching a fresh 200 MB array took 1.5–2.8 s
    with the advice and 0.12–0.15 s without, and the 10,000 × 2,040 job's normalization fell from
    4.4 s to 0.35 s.  The long-running server and CLI call this; a notebook's NumPy is left alone.

    An operator's own ``NUMPY_MADVISE_HUGEPAGE`` (``1`` keeps huge pages) is respected.

    Parameters
    ----------
    environ : mutable mapping, optional
        Default ``os.environ``; the variable is set there, so that processes started by spawn
        or forkserver (the job workers, the reader children) import NumPy without the advice.

    Returns
    -------
    bool
        Whether NumPy in this process now leaves huge pages alone.
    """
    environ = os.environ if environ is None else environ
    chosen = environ.get(NUMPY_HUGEPAGE_VARIABLE, "").strip()
    if chosen and switch(chosen):
        return False
    environ[NUMPY_HUGEPAGE_VARIABLE] = "0"
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # NumPy < 2
        try:
            from numpy.core.multiarray import _set_madvise_hugepage
        except ImportError:
            return False
    _set_madvise_hugepage(False)
    return True


def _expected(parse: Callable, positive: bool) -> str:
    if positive:
        return "a positive number"
    return {int: "a whole number", float: "a number"}.get(parse, "a value it can use")
