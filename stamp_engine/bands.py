"""Named wavelength bands: light curves are integrated over them, views highlight them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:
    from .cube import Cube


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

    def has_samples(self, wavelength: np.ndarray) -> bool:
        """True when at least one wavelength sample (µm) lies inside the band.

        This is the rule for a band being *usable*: a light curve integrates the band's
        samples, so a band between two samples (or outside the data) has nothing to show.
        """
        return bool(np.any(self.mask(np.asarray(wavelength, dtype=float))))

    def unusable_reason(self, wavelength: np.ndarray) -> str | None:
        """Why the band holds no sample of ``wavelength`` (µm, ascending), or None when it does.

        The reason names the band and the samples nearest to it, so the user can widen it.
        """
        wavelength = np.asarray(wavelength, dtype=float)
        if self.has_samples(wavelength):
            return None
        span = f"{self.name} ({self.start:g}–{self.end:g} µm)"
        finite = wavelength[np.isfinite(wavelength)]
        if finite.size == 0:
            return f"{span}: the data have no wavelengths"
        lo, hi = float(finite.min()), float(finite.max())
        if self.end < lo or self.start > hi:
            return f"{span} is outside the data ({lo:.4g}–{hi:.4g} µm)"
        below = finite[finite < self.start]
        above = finite[finite > self.end]
        return (
            f"{span} holds no wavelength sample: the nearest are {below.max():.5g} µm and "
            f"{above.min():.5g} µm; widen the band to include one"
        )

    def to_dict(self) -> dict:
        return {"name": self.name, "start": self.start, "end": self.end}


#: Every preset band once (µm): a band in several presets has one definition.
_PRESET_BANDS: dict[str, Band] = {band.name: band for band in (
    Band("Na", 0.585, 0.595),
    Band("K", 0.760, 0.775),
    Band("H2O 1.4", 1.30, 1.50),
    Band("CH4 1.7", 1.60, 1.80),
    Band("H2O 1.9", 1.80, 2.05),
    Band("CH4 2.3", 2.20, 2.40),
    Band("H2O 2.7", 2.55, 2.95),
    Band("CH4 3.3", 3.15, 3.45),
    Band("SO2 4.05", 3.95, 4.10),
    Band("CO2 4.3", 4.20, 4.45),
    Band("CO 4.6", 4.50, 4.90),
    Band("H2O 6.3", 5.50, 7.00),
    Band("SO2 7.3", 7.10, 7.60),
    Band("CH4 7.7", 7.40, 8.00),
    Band("Silicates 10", 8.50, 11.50),
    Band("NH3 10.5", 10.30, 10.80),
)}

#: Molecular bands commonly examined in JWST exoplanet and brown-dwarf spectra (µm).
PRESETS: dict[str, tuple[Band, ...]] = {
    title: tuple(_PRESET_BANDS[name] for name in names)
    for title, names in {
        "Molecules (near-IR)": ("H2O 1.4", "CH4 1.7", "H2O 1.9", "CH4 2.3", "H2O 2.7", "CH4 3.3", "CO2 4.3", "CO 4.6"),
        "Exoplanet transmission": ("Na", "K", "H2O 1.4", "CO2 4.3", "SO2 4.05", "CO 4.6"),
        "Mid-IR (MIRI)": ("H2O 6.3", "CH4 7.7", "SO2 7.3", "NH3 10.5", "Silicates 10"),
    }.items()
}


#: Longest band name accepted (names label buttons, legends and table columns).
MAX_BAND_NAME = 80


def parse_band_end(value: object) -> float | None:
    """A band end as a finite float (numbers or numeric text), else None (bools are not numbers)."""
    if value is None or isinstance(value, bool) or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def band_from_record(record: Mapping, default_name: str | None = None) -> Band:
    """The one band parser: a :class:`Band` from a ``{name, start, end}`` mapping (µm).

    Every source of bands comes through here — the band editor's rows, the list the
    browser sends with a view, ``stamp render --bands``/``--bands-file`` — so each
    accepts and refuses the same bands with the same words.

    Parameters
    ----------
    record : mapping
        ``name`` (text), ``start`` and ``end`` (numbers or numeric text, µm).
    default_name : str, optional
        Name for a record without one (else a missing name is an error).

    Raises
    ------
    ValueError
        Saying what is wrong: no name, a name too long, ends that are not numbers,
        or start ≥ end.
    """
    if not isinstance(record, Mapping):
        raise ValueError("a band must be a {name, start, end} record")
    name = record.get("name")
    if name is None or (isinstance(name, str) and not name.strip()):
        if default_name is None:
            raise ValueError("Give the band a name")
        name = default_name
    if not isinstance(name, str):
        raise ValueError("The band's name must be text")
    name = name.strip()
    if len(name) > MAX_BAND_NAME:
        raise ValueError(f"Band names are at most {MAX_BAND_NAME} characters")
    start, end = parse_band_end(record.get("start")), parse_band_end(record.get("end"))
    if start is None or end is None:
        raise ValueError("Start and end must be numbers (µm)")
    if start >= end:
        raise ValueError(f"Start ({start:g} µm) must be below end ({end:g} µm)")
    return Band(name, start, end)


def bands_from_records(records: Iterable[Mapping]) -> list[Band]:
    """Bands from dicts with ``name``, ``start``, ``end`` (e.g. a JSON file or a table), by
    :func:`band_from_record`; a record without a name is called "Band <n>".

    Raises
    ------
    ValueError
        Naming the first bad record.
    """
    bands = []
    for i, rec in enumerate(records, start=1):
        try:
            bands.append(band_from_record(rec, default_name=f"Band {i}"))
        except ValueError as exc:
            raise ValueError(f"band {i}: {exc}") from None
    return bands


_RANGE = re.compile(r"^\s*([-+]?[\d.]+(?:[eE][-+]?\d+)?)\s*(?:-|–|—|\.\.|to)\s*([-+]?[\d.]+(?:[eE][-+]?\d+)?)\s*(?:µm|um)?\s*$")


def parse_bands(text: str) -> list[Band]:
    """Bands from ``"H2O:1.3-1.5,CH4:1.6-1.8"`` (name:start-end in µm, comma separated).

    A band without a name (``"1.3-1.5"``) is called "Band <n>".

    Raises
    ------
    ValueError
        Naming the part that could not be read.
    """
    bands = []
    for i, part in enumerate(p for p in text.split(",") if p.strip()):
        name, _, span = part.rpartition(":")
        match = _RANGE.match(span)
        if not match:
            raise ValueError(f"band {part.strip()!r} is not like NAME:START-END (µm), e.g. H2O:1.3-1.5")
        record = {"name": name, "start": match.group(1), "end": match.group(2)}
        try:
            bands.append(band_from_record(record, default_name=f"Band {i + 1}"))
        except ValueError as exc:
            raise ValueError(f"band {part.strip()!r}: {exc}") from None
    if not bands:
        raise ValueError(f"no band in {text!r}; expected NAME:START-END, e.g. H2O:1.3-1.5")
    return bands


def read_bands_file(path: str | Path) -> list[Band]:
    """Bands from a JSON (always) or YAML (when PyYAML is installed) file.

    Accepted shapes: a list of ``{"name", "start", "end"}`` objects, the same list under
    a ``"bands"`` key, or a mapping ``{name: [start, end]}``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read the bands file {path}: {exc.strerror or exc}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ValueError(f"{path.name}: YAML band files need PyYAML (pip install pyyaml); use JSON instead") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"{path.name} is not valid YAML: {exc}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path.name} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    if isinstance(data, dict) and "bands" in data:
        data = data["bands"]
    if isinstance(data, dict):
        records = []
        for name, span in data.items():
            if not (isinstance(span, (list, tuple)) and len(span) == 2):
                raise ValueError(f"{path.name}: band {name!r} must be [start, end] in µm")
            records.append({"name": name, "start": span[0], "end": span[1]})
        data = records
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ValueError(f"{path.name}: expected a list of {{name, start, end}} objects or {{name: [start, end]}}")
    try:
        bands = bands_from_records(data)
    except ValueError as exc:
        raise ValueError(f"{path.name}: {exc}") from None
    if not bands:
        raise ValueError(f"{path.name} holds no bands")
    return bands


def preset_bands(name: str) -> list[Band]:
    """The bands of a preset in :data:`PRESETS`, matched case-insensitively."""
    for key, bands in PRESETS.items():
        if key.lower() == name.strip().lower():
            return list(bands)
    raise ValueError(f"unknown band preset {name!r}; presets: {', '.join(repr(k) for k in PRESETS)}")


def _wavelength_of(cube_or_wavelength: "Cube | np.ndarray | Sequence[float]") -> np.ndarray:
    return np.asarray(getattr(cube_or_wavelength, "wavelength", cube_or_wavelength), dtype=float)


def usable_bands(cube_or_wavelength: "Cube | np.ndarray | Sequence[float]", bands: Iterable[Band]) -> list[Band]:
    """The bands holding at least one wavelength sample of a cube (or of a wavelength array, µm).

    The one rule every front end applies (band editor, light curves, downloads,
    ``stamp render``): see :meth:`Band.has_samples`.
    """
    wavelength = _wavelength_of(cube_or_wavelength)
    return [b for b in bands if b.has_samples(wavelength)]


def preset_for(cube_or_wavelength: "Cube | np.ndarray | Sequence[float]", presets: Mapping[str, Sequence[Band]] | None = None) -> str:
    """The name of the band preset that fits the data's wavelengths best.

    The preset with the most usable bands (:func:`usable_bands`) wins; ties go to the
    larger fraction of the preset's bands that are usable, then to the order of
    ``presets`` (default :data:`PRESETS`). Near-IR data get the near-IR molecules,
    MIRI data the mid-IR preset.
    """
    presets = PRESETS if presets is None else presets
    if not presets:
        raise ValueError("no band presets to choose from")
    wavelength = _wavelength_of(cube_or_wavelength)

    def score(item: tuple[int, tuple[str, Sequence[Band]]]) -> tuple[int, float, int]:
        order, (_, bands) = item
        usable = len(usable_bands(wavelength, bands))
        return usable, usable / max(len(bands), 1), -order

    return max(enumerate(presets.items()), key=score)[1][0]
