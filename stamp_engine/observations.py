"""Which files belong to one observation, so that a folder of several is never merged into one cube.

A folder such as MAST downloads of several programs, or Eureka! outputs of several
instruments, holds several observations: stacking them would mix targets, instrument
modes and epochs months apart.  Blocks are grouped by what the files say about them
(program, target, instrument and its mode) and by time (exposures more than
``gap_days`` apart are different observations, whatever their headers say); a field a
file does not record (Eureka! light curves carry no instrument) matches any value.
Observation and visit numbers are listed per group but do not split it: the visits of
one target in one mode, days apart, are what STAMP shows side by side.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .io.block import SpectralBlock

#: Exposures further apart than this (days) are different observations.
DEFAULT_GAP_DAYS = 10.0
#: What a group's blocks must agree on (where both record it); ``product`` tells binned light
#: curves (Eureka! S4 ``LCData``) from spectra: two products of one observation are never stacked.
IDENTITY_KEYS = ("program", "target", "instrument", "exp_type", "filter", "grating", "pupil", "product")


@dataclass
class ObservationGroup:
    """The blocks of one observation and what describes it.

    Attributes
    ----------
    id : str
        Short name to choose the group with (``load(observation=...)``, ``--observation``),
        e.g. ``"jw02783-o002"``; unique within one load.
    identity : dict
        The agreed values of :data:`IDENTITY_KEYS` (absent when no file records them).
    observations : list of str
        JWST observation numbers of its files (``OBSERVTN``), when recorded.
    blocks : list of SpectralBlock
    """

    id: str
    identity: dict[str, str]
    observations: list[str]
    blocks: list[SpectralBlock] = field(repr=False)

    @property
    def sources(self) -> list[str]:
        return sorted({b.source for b in self.blocks})

    @property
    def integrations(self) -> int:
        """Integrations of the group's largest element per file, summed (its size, for choosing)."""
        per_source: dict[str, int] = {}
        for b in self.blocks:
            per_source[b.source] = max(per_source.get(b.source, 0), b.n_integrations)
        return sum(per_source.values())

    @property
    def time_range(self) -> tuple[float, float]:
        return (min(_start(b) for b in self.blocks), max(_end(b) for b in self.blocks))

    @property
    def label(self) -> str:
        """``WASP-39 · MIRI MIR_LRS-SLITLESS P750L · program 02783 obs 002 · MJD 59989.98``."""
        ident = self.identity
        mode = " ".join(ident[k] for k in ("instrument", "exp_type", "filter", "grating", "pupil") if ident.get(k))
        program = f"program {ident['program']}" if ident.get("program") else ""
        if program and self.observations:
            program += f" obs {', '.join(self.observations)}"
        product = ident.get("product") if ident.get("product") != "spectra" else ""
        parts = [ident.get("target") or "target unknown", mode or "instrument unknown", product, program,
                 f"MJD {self.time_range[0]:.2f}"]
        return " · ".join(p for p in parts if p)

    def describe(self) -> dict[str, Any]:
        """The group as JSON-ready values (``stamp inspect``'s ``observations[]``)."""
        start, end = self.time_range
        return {"id": self.id, "label": self.label, **{k: self.identity.get(k) for k in IDENTITY_KEYS},
                "observations": list(self.observations), "sources": self.sources,
                "integrations": self.integrations, "time_start_mjd": start, "time_end_mjd": end}


def _start(block: SpectralBlock) -> float:
    return float(np.nanmin(block.time_mjd))


def _end(block: SpectralBlock) -> float:
    return float(np.nanmax(block.time_mjd))


def _identity(block: SpectralBlock) -> dict[str, str]:
    meta = {**block.meta, "product": "light curves" if block.layout == "eureka-s4" else "spectra"}
    found = {}
    for key in IDENTITY_KEYS:
        value = meta.get(key)
        if value not in (None, ""):
            found[key] = str(value).strip().upper() if key not in ("target", "product") else str(value).strip()
    return found


def _compatible(a: dict[str, str], b: dict[str, str]) -> bool:
    return all(a[k] == b[k] for k in a.keys() & b.keys())


def group_observations(blocks: Sequence[SpectralBlock], gap_days: float = DEFAULT_GAP_DAYS) -> list[ObservationGroup]:
    """Blocks grouped into observations, the largest (most integrations) first.

    Parameters
    ----------
    blocks : sequence of SpectralBlock
        Every usable block of one load (each with at least one finite time).
    gap_days : float
        Blocks starting more than this many days after every earlier block has ended
        start a new observation.

    Returns
    -------
    list of ObservationGroup
        Blocks of one file always share a group.
    """
    by_source: dict[str, list[SpectralBlock]] = {}
    for b in blocks:
        by_source.setdefault(b.source, []).append(b)
    files = sorted(by_source.values(), key=lambda bs: min(_start(b) for b in bs))
    groups: list[tuple[dict[str, str], list[SpectralBlock]]] = []
    cluster_start = 0  # groups before this index belong to earlier epochs
    reach = -np.inf
    for members in files:
        start = min(_start(b) for b in members)
        if start > reach + gap_days:
            cluster_start = len(groups)
        reach = max(reach, max(_end(b) for b in members))
        identity: dict[str, str] = {}
        for b in members:
            identity.update({k: v for k, v in _identity(b).items() if k not in identity})
        for known, group_blocks in groups[cluster_start:]:
            if _compatible(known, identity):
                known.update({k: v for k, v in identity.items() if k not in known})
                group_blocks.extend(members)
                break
        else:
            groups.append((identity, list(members)))
    result = [ObservationGroup("", identity, _observation_numbers(members), members) for identity, members in groups]
    result.sort(key=lambda g: (-g.integrations, g.time_range[0]))
    used: set[str] = set()
    for group in result:
        group.id = _unique(_base_id(group), used)
    return result


def _observation_numbers(blocks: Sequence[SpectralBlock]) -> list[str]:
    return sorted({str(b.meta["observation"]) for b in blocks if b.meta.get("observation")})


def _base_id(group: ObservationGroup) -> str:
    ident = group.identity
    if ident.get("program"):
        text = f"jw{ident['program']}" + "".join(f"-o{o}" for o in group.observations)
    else:
        first = group.blocks[0]
        name = str(ident.get("target") or next((b.meta["eventlabel"] for b in group.blocks if b.meta.get("eventlabel")),
                                               None) or first.source.rsplit("/", 1)[-1].split(".", 1)[0])
        instrument = ident.get("instrument", "")
        text = name if instrument.lower() in name.lower() else f"{name}-{instrument}"
        if ident.get("product") == "light curves":
            text += "-lc"
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", text).strip("-") or "observation"


def _unique(base: str, used: set[str]) -> str:
    name, k = base, 2
    while name.lower() in used:
        name, k = f"{base}-{k}", k + 1
    used.add(name.lower())
    return name


def find_observation(groups: Sequence[ObservationGroup], wanted: str | int) -> ObservationGroup | None:
    """The group named ``wanted``: its id (any case), its 1-based position, or its whole label."""
    text = str(wanted).strip()
    for group in groups:
        if text.lower() in (group.id.lower(), group.label.lower()):
            return group
    if text.isdigit() and 1 <= int(text) <= len(groups):
        return groups[int(text) - 1]
    return None
