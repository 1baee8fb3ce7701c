"""Benchmark datasets, generated once with the synthetic x1dints writer and cached.

Cached under ``benchmarks/_data/<name>/`` with a ``manifest.json`` recording how they were
made (sizes, seed, and a hash of the writer's source for the record).  A dataset is
regenerated when it is missing, incomplete, made with other sizes or seed, or when asked
(``python -m benchmarks --regenerate``, e.g. after the writer changed).  Generation
writes one segment file at a time (``write_segments`` does), so memory stays at about one
segment's columns plus the observation itself.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .common import DATA_DIR, REPO_ROOT

SEED = 20240611
#: Target name written into the files; the browser timing waits for plots titled with it.
TARGET = "STAMP benchmark"


@dataclass(frozen=True)
class DatasetSpec:
    """What to generate."""

    name: str
    layout: str  # "new" | "old"
    n_integrations: int
    n_wavelengths: int
    n_segments: int
    cadence_s: float

    @property
    def cube_bytes(self) -> int:
        """Bytes of flux + error as native float64 (what the target is relative to)."""
        return 2 * 8 * self.n_integrations * self.n_wavelengths

    @property
    def label(self) -> str:
        return f"{self.layout} layout, {self.n_integrations:,} × {self.n_wavelengths:,} in {self.n_segments} file(s)"


def ingest_specs(quick: bool) -> tuple[DatasetSpec, DatasetSpec]:
    """(new layout big dataset, old layout dataset); ``quick`` uses 1/10 of the integrations."""
    scale = 10 if quick else 1
    new = DatasetSpec(f"new_{10_000 // scale}x2040", "new", 10_000 // scale, 2040, 5, cadence_s=10.0)
    old = DatasetSpec(f"old_{1_200 // scale}x430", "old", 1_200 // scale, 430, 1, cadence_s=30.0)
    return new, old


@dataclass
class Dataset:
    spec: DatasetSpec
    paths: list[Path]
    bytes_on_disk: int
    generated_s: float | None  # None when taken from the cache

    @property
    def path_strings(self) -> list[str]:
        return [str(p) for p in self.paths]


def _writer_hash() -> str:
    digest = hashlib.sha256()
    for rel in ("stamp_engine/synthetic/x1dints.py", "stamp_engine/synthetic/__init__.py"):
        path = REPO_ROOT / rel
        digest.update(path.read_bytes() if path.exists() else b"missing")
    return digest.hexdigest()[:16]


def _manifest(spec: DatasetSpec) -> dict:
    return {"spec": asdict(spec), "seed": SEED}


#: Names regenerated in this run already (``--regenerate`` regenerates each dataset once).
_FRESH: set[str] = set()


def ensure(spec: DatasetSpec, log=print, regenerate: bool = False) -> Dataset:
    """The dataset's files, generating them if the cache is missing or stale.

    Raises
    ------
    ImportError
        When the synthetic x1dints writer is not available.
    """
    folder = DATA_DIR / spec.name
    manifest_path = folder / "manifest.json"
    wanted = _manifest(spec)
    if manifest_path.exists():
        stored = json.loads(manifest_path.read_text())
        paths = [folder / name for name in stored.get("files", [])]
        fresh_enough = not regenerate or spec.name in _FRESH
        if fresh_enough and {k: stored.get(k) for k in wanted} == wanted and paths and all(p.exists() for p in paths):
            return Dataset(spec, paths, sum(p.stat().st_size for p in paths), None)
    dataset = _generate(spec, folder, wanted, log)
    _FRESH.add(spec.name)
    return dataset


def _generate(spec: DatasetSpec, folder: Path, manifest: dict, log) -> Dataset:
    import numpy as np

    from stamp_engine.synthetic import make_observation
    from stamp_engine.synthetic.x1dints import write_segments

    log(f"  generating {spec.label} under {folder.relative_to(REPO_ROOT)} …", flush=True)
    t0 = time.perf_counter()
    work = folder.with_name(folder.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    work.mkdir(parents=True)
    obs = make_observation(
        kind="transit",
        n_integrations=spec.n_integrations,
        wavelength=np.linspace(0.6, 5.3, spec.n_wavelengths),
        cadence_s=spec.cadence_s,
        seed=SEED,
        nan_columns=(0, 1, spec.n_wavelengths - 1),
        meta={"target": TARGET, "program": "09998", "observation": "001"},
    )
    paths = write_segments(work, obs, n_segments=spec.n_segments, layout=spec.layout, stage=2)
    del obs
    manifest = {**manifest, "writer_source_sha256": _writer_hash(), "files": [p.name for p in paths]}
    (work / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    work.rename(folder)  # only a complete dataset gets the real name
    paths = [folder / p.name for p in paths]
    elapsed = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in paths)
    log(f"  … {len(paths)} file(s), {size / 1024**3:.2f} GiB in {elapsed:.0f} s", flush=True)
    return Dataset(spec, paths, size, elapsed)
