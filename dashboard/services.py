"""What the callbacks of one app share: its configuration and its cube cache."""

from __future__ import annotations

from dataclasses import dataclass

from .config import Config
from .pipeline import CubeService


@dataclass(frozen=True)
class Services:
    """Passed to every feature's ``register(app, services)``; one per app, no module globals."""

    config: Config
    cubes: CubeService


def build_services(config: Config, loader=None) -> Services:
    """Open the cube cache under ``config.cache_dir`` (size-limited, least recently used evicted).

    ``loader`` replaces :func:`stamp_engine.load` (tests count or slow down loads with it).
    """
    import diskcache

    config.cubes_dir.mkdir(parents=True, exist_ok=True)
    cache = diskcache.Cache(
        str(config.cubes_dir),
        size_limit=config.cache_size_mb * 1024 * 1024,
        eviction_policy="least-recently-used",
    )
    return Services(config=config, cubes=CubeService(cache, loader=loader, display_limits=config.display_limits))
