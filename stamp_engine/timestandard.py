"""Time standards: in which scale, and as seen from where, a cube's times are measured.

A cube (and every block a reader returns) names its standard with a label such as
``"BJD_TDB"`` or ``"MJD_UTC (from EXPSTART + cadence)"``; :func:`time_standard` turns the
label into a :class:`TimeStandard`, the one place that says what the label means: the
astropy scale of the times, the FITS reference position (``TREFPOS``) and how the times
were obtained (the note).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BJD_TDB", "BJD_TDB_ASSUMED", "HJD_UTC", "MJD_UTC", "MJD_UTC_FROM_CADENCE", "TIME_STANDARDS",
           "TimeStandard", "time_standard"]


@dataclass(frozen=True)
class TimeStandard:
    """A time standard.

    Attributes
    ----------
    name : str
        ``"BJD_TDB"``, ``"MJD_UTC"`` or ``"HJD_UTC"``.
    scale : str
        The astropy :class:`~astropy.time.Time` scale of the times (``"tdb"``, ``"utc"``).
    reference_position : str
        Where the times are measured, as FITS ``TREFPOS``: ``"BARYCENTER"``,
        ``"HELIOCENTER"`` or ``"TOPOCENTER"``.
    note : str
        How the times were obtained when it is not what the file states ("assumed",
        "from EXPSTART + cadence"); empty otherwise.
    """

    name: str
    scale: str
    reference_position: str
    note: str = ""

    @property
    def label(self) -> str:
        """The name the cube carries (``Cube.time_standard``), with the note in brackets."""
        return f"{self.name} ({self.note})" if self.note else self.name

    @property
    def timesys(self) -> str:
        """FITS ``TIMESYS`` of the times."""
        return self.scale.upper()

    def __str__(self) -> str:
        return self.label


BJD_TDB = TimeStandard("BJD_TDB", "tdb", "BARYCENTER")  # stored as MJD (BJD − 2400000.5)
BJD_TDB_ASSUMED = TimeStandard("BJD_TDB", "tdb", "BARYCENTER", "assumed")
MJD_UTC = TimeStandard("MJD_UTC", "utc", "TOPOCENTER")
#: Times estimated from EXPSTART and the read pattern (the file had none).
MJD_UTC_FROM_CADENCE = TimeStandard("MJD_UTC", "utc", "TOPOCENTER", "from EXPSTART + cadence")
HJD_UTC = TimeStandard("HJD_UTC", "utc", "HELIOCENTER")

#: Every standard a block or a cube can carry, by label.
TIME_STANDARDS: dict[str, TimeStandard] = {
    s.label: s for s in (BJD_TDB, MJD_UTC, HJD_UTC, BJD_TDB_ASSUMED, MJD_UTC_FROM_CADENCE)
}


def time_standard(label: str) -> TimeStandard:
    """The :class:`TimeStandard` a label names.

    Raises
    ------
    ValueError
        For a label that is not one of :data:`TIME_STANDARDS`.
    """
    try:
        return TIME_STANDARDS[label]
    except (KeyError, TypeError):
        raise ValueError(f"unknown time standard {label!r}; known: {', '.join(TIME_STANDARDS)}") from None
