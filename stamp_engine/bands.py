"""Named wavelength bands: light curves are integrated over them, views highlight them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np


@dataclass(frozen=True)
class Band:
    """A named wavelength range in µm, ``start < end``."""

    name: str
    start: float
    end: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.start) and np.isfinite(self.end)):
            raise ValueError(f"band {self.name!r}: start and end must be numbers")
        if self.start >= self.end:
            raise ValueError(f"band {self.name!r}: start ({self.start} µm) must be below end ({self.end} µm)")

    def mask(self, wavelength: np.ndarray) -> np.ndarray:
        """True where ``wavelength`` (µm) falls inside the band."""
        return (wavelength >= self.start) & (wavelength <= self.end)

    def overlaps(self, lo: float, hi: float) -> bool:
        return self.start < hi and self.end > lo

    def to_dict(self) -> dict:
        return {"name": self.name, "start": self.start, "end": self.end}


#: Molecular bands commonly examined in JWST exoplanet and brown-dwarf spectra (µm).
PRESETS: dict[str, tuple[Band, ...]] = {
    "Molecules (near-IR)": (
        Band("H2O 1.4", 1.30, 1.50),
        Band("CH4 1.7", 1.60, 1.80),
        Band("H2O 1.9", 1.80, 2.05),
        Band("CH4 2.3", 2.20, 2.40),
        Band("H2O 2.7", 2.55, 2.95),
        Band("CH4 3.3", 3.15, 3.45),
        Band("CO2 4.3", 4.20, 4.45),
        Band("CO 4.6", 4.50, 4.90),
    ),
    "Exoplanet transmission": (
        Band("Na", 0.585, 0.595),
        Band("K", 0.760, 0.775),
        Band("H2O 1.4", 1.30, 1.50),
        Band("CO2 4.3", 4.20, 4.45),
        Band("SO2 4.05", 3.95, 4.10),
        Band("CO 4.6", 4.50, 4.90),
    ),
    "Mid-IR (MIRI)": (
        Band("H2O 6.3", 5.50, 7.00),
        Band("CH4 7.7", 7.40, 8.00),
        Band("SO2 7.3", 7.10, 7.60),
        Band("NH3 10.5", 10.30, 10.80),
        Band("Silicates 10", 8.50, 11.50),
    ),
}


def bands_from_records(records: Iterable[Mapping]) -> list[Band]:
    """Bands from dicts with ``name``, ``start``, ``end`` (e.g. a JSON file or a table).

    Raises
    ------
    ValueError
        Naming the first bad record.
    """
    bands = []
    for i, rec in enumerate(records, start=1):
        try:
            bands.append(Band(str(rec.get("name") or f"Band {i}"), float(rec["start"]), float(rec["end"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"band {i}: {exc}") from None
    return bands


def bands_in_range(bands: Sequence[Band], lo: float, hi: float) -> list[Band]:
    """The bands that overlap ``[lo, hi]`` µm."""
    return [b for b in bands if b.overlaps(lo, hi)]
