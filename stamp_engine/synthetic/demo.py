"""Write the demo observation the dashboard opens on: ``stamp_engine/data/demo_brown_dwarf.h5``.

A synthetic brown dwarf observed twice with a NIRSpec PRISM-like set-up, written as a
Eureka! Stage-3 ``SpecData.h5``: 520 integrations (two visits of 260 at a 60 s cadence,
3 h apart) over 430 wavelengths from 0.6 to 5.3 µm.  Its rotational variability
(period 2.4 h) has an amplitude of ~1 % in the continuum rising to ~3 % in the H2O,
CH4 and CO2 bands, with a phase lag in the bands — structure that is visible at once
on the surface, the heatmap and the band light curves.

Deterministic (fixed seed): re-running the script rewrites the same data.

    python -m stamp_engine.synthetic.demo [--output PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..data import DEMO_PATH
from . import make_observation
from .eureka import write_eureka_s3

SEED = 20240611
TARGET = "STAMP-BD-1 (synthetic brown dwarf)"


def make_demo(path: Path = DEMO_PATH) -> Path:
    """Generate the demo observation and write it to ``path``."""
    obs = make_observation(
        kind="variability",
        n_integrations=520,
        n_visits=2,
        cadence_s=60.0,
        visit_gap_hours=3.0,
        snr=800.0,
        seed=SEED,
        period_hours=2.4,
        meta={"target": TARGET, "eventlabel": "STAMP-BD-1"},
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_eureka_s3(path, obs, flux_units="mJy", compression="gzip", float32=True,
                           root_attrs={"target": TARGET})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEMO_PATH, help=f"file to write (default {DEMO_PATH})")
    path = make_demo(parser.parse_args().output)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
