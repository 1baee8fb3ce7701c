"""The progress callback every long engine call accepts (loading, processing, exports, video)."""

from __future__ import annotations

from typing import Callable

__all__ = ["Progress", "no_progress"]

#: ``progress(stage, done, total)``: a sentence saying what is being done, and how far along.
Progress = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    """The default :data:`Progress`: report nothing."""
    return None
