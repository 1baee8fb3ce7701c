"""Settings read from ``STAMP_*`` environment variables: one rule for the engine and the dashboard.

A variable that is unset or blank takes its default; any other value is parsed, and a value
that cannot be used is a :class:`ValueError` naming the variable and the value
(``STAMP_ZIP_MAX_FILES='lots' is not a positive number``).  The dashboard refuses to start
on one (:class:`dashboard.server.config.ConfigError`); the engine's readers, which also run
in notebooks, warn with the same words and keep the default (:func:`env_value_or_default`).
"""

from __future__ import annotations

import warnings
from typing import Callable, Mapping, TypeVar

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


def _expected(parse: Callable, positive: bool) -> str:
    if positive:
        return "a positive number"
    return {int: "a whole number", float: "a number"}.get(parse, "a value it can use")
