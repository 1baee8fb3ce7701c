"""What the callbacks of one app share: its configuration, its cube cache, its job limits and its uploads' running digests."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..cache import CubeCache
from ..pipeline import CubeService
from .budget import JobBudget
from .config import Config
from .gate import JobGate
from .scratch import ScratchSpace
from .upload_route import RunningDigests


@dataclass(frozen=True)
class Services:
    """Passed to every feature's ``register(app, services)``; one per app, no module globals."""

    config: Config
    cubes: CubeService
    gate: JobGate
    scratch: ScratchSpace
    #: Memory and time of one job (:func:`dashboard.server.runner.in_budget`); None runs jobs in-process.
    budget: JobBudget | None = None
    #: SHA-256 of files being uploaded, fed as their chunks arrive (finishing reads nothing again).
    upload_digests: RunningDigests = field(default_factory=RunningDigests)


def build_services(config: Config, loader=None) -> Services:
    """Open the cube cache under ``config.cache_dir`` (size-limited, least recently used evicted, viewed cubes pinned).

    ``loader`` replaces :func:`stamp_engine.load` (tests count or slow down loads with it).
    """
    cache = CubeCache(
        config.cubes_dir,
        size_limit=config.cache_size_mb * 1024 * 1024,
        pin_seconds=config.pin_minutes * 60,
        ticket_seconds=config.upload_ttl_hours * 3600,
    )
    return Services(
        config=config,
        cubes=CubeService(cache, loader=loader, display_limits=config.display_limits),
        gate=JobGate(cache.disk, config.max_jobs, config.max_session_jobs, config.job_timeout_s),
        scratch=ScratchSpace(config.scratch_dir, config.job_timeout_s),
        budget=JobBudget(memory_mb=config.job_memory_mb, timeout_s=config.job_timeout_s),
    )
