"""Where the checkout and the test data are, wherever a test module sits under tests/."""

from __future__ import annotations

from pathlib import Path

#: The checkout's root (README.md, pyproject.toml, stamp_engine/, dashboard/, .ci/).
REPO = Path(__file__).resolve().parents[2]
#: Small real JWST x1dints and Eureka! files (see tests/data/real/PROVENANCE.md).
REAL = REPO / "tests" / "data" / "real"
