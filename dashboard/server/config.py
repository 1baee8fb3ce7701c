"""Dashboard configuration, read once from environment variables.

Every setting has a safe default, so ``stamp serve`` needs none of them.

==========================  ==========================================  =====================================
Variable                    Meaning                                     Default
==========================  ==========================================  =====================================
``STAMP_URL_PREFIX``        Path the app is served under behind a       ``/``
                            proxy or portal (sets Dash's
                            ``requests_pathname_prefix`` and
                            ``routes_pathname_prefix``), e.g.
                            ``/tools/stamp/``.
``STAMP_DATA_DIR``          Server folder whose files users may pick    unset: no server file picker
                            (FITS, HDF5, ZIP). Nothing outside it is
                            ever read.
``STAMP_CACHE_DIR``         Folder for uploads, processed cubes and     ``$XDG_CACHE_HOME/stamp`` or
                            background-job results.                     ``~/.cache/stamp``
``STAMP_CACHE_SIZE_MB``     Size limit of the processed-cube cache;     ``2048``
                            least recently used cubes are evicted.
``STAMP_MAX_UPLOAD_MB``     Largest upload accepted (all files of one   ``8192`` (8 GB)
                            upload together), checked in the browser
                            before any byte is sent and by the server
                            per chunk.
``STAMP_UPLOAD_TTL_HOURS``  Uploaded files older than this are          ``24``
                            deleted.
``STAMP_FRAME_ANCESTORS``   Origins allowed to show the app in an       empty: framing refused
                            iframe, space- or comma-separated (e.g.     (``X-Frame-Options: DENY``,
                            ``https://portal.example.org``).            ``frame-ancestors 'none'``)
``STAMP_BACKGROUND``        Background job runner: ``diskcache``        ``diskcache``
                            (local worker processes) or ``celery``.
``STAMP_REDIS_URL``         Broker and result store when                unset
                            ``STAMP_BACKGROUND=celery``.
``STAMP_DEMO``              HDF5/FITS file the app opens on; ``none``   the demo shipped in
                            opens on an empty page.                     ``stamp_engine/data/``
``STAMP_DISPLAY_MAX_TIME``  Display resolution: at most this many       ``600``
                            time bins in a surface or heatmap (data
                            are binned, never dropped).
``STAMP_DISPLAY_MAX_WAVE``  Same for wavelength bins.                   ``500``
``STAMP_AUTH_HEADER``       Trust this request header (e.g.             unset: no access control
                            ``X-Remote-User``), set by the portal's
                            reverse proxy: requests without it get
                            401.  Only safe when the proxy is the
                            only way in and strips the header from
                            clients.
``STAMP_BASIC_AUTH``        HTTP basic auth: ``user:password``,         unset
                            ``user:sha256$<hex>`` or
                            ``user:pbkdf2_sha256$<iterations>$<salt>$<hex>``
                            (``python -m dashboard.server.security``
                            prints one); several users separated by
                            spaces or commas.
``STAMP_MAX_JOBS``          Processing jobs running at once on the      ``8``
                            whole server; more are refused with a
                            "server busy" message.
``STAMP_MAX_SESSION_JOBS``  Jobs one browser tab may run at once.       ``2``
``STAMP_JOB_TIMEOUT_S``     A job running longer than this is killed    ``600``
                            (its whole process group) and its page
                            told why.
``STAMP_JOB_MEMORY_MB``     Memory one job may allocate beyond the      ``3072``
                            server's own (an OS limit on the job's
                            process).
``STAMP_PIN_MINUTES``       A cube viewed in the last N minutes is      ``30``
                            evicted only after every other cube
                            (oldest view first) when the cache is at
                            its limit.
``STAMP_SESSION_QUOTA_MB``  Uploads and downloads one page may store.   ``2048``
``STAMP_STORAGE_QUOTA_MB``  Uploads and downloads of all pages.         ``20480``
``STAMP_MIN_FREE_MB``       Free space kept on the cache disk (nothing  ``512``
                            is written below it; ``/healthz`` answers
                            503).
``STAMP_MAX_UPLOAD_FILES``  Most files in one upload or server pick     ``1000``
                            (ZIP entries: ``STAMP_ZIP_MAX_FILES``).
``STAMP_WORKERS``           ``stamp serve --production``: web worker    2 per core, at most 8
                            processes.
``STAMP_THREADS``           Threads per web worker.                     ``4``
``STAMP_TIMEOUT_S``         Seconds a web request may take (uploads     ``300``
                            arrive in chunks of 8 MB, one request
                            each).
==========================  ==========================================  =====================================
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

#: The demo observation shipped inside the package (written by ``python -m stamp_engine.synthetic.demo``).
from stamp_engine.data import DEMO_PATH as SHIPPED_DEMO
from stamp_engine.settings import env_value

from .security import secret_problem

BACKGROUNDS = ("diskcache", "celery")

# An origin as CSP accepts it: scheme://host[:port], optionally with a leading "*." wildcard, or 'self'.
_ORIGIN = re.compile(r"^(?:'self'|https?://(?:\*\.)?[A-Za-z0-9.-]+(?::\d{1,5})?)$")


#: Most bytes of one upload request: files travel in chunks of this size (see dashboard.server.upload_route).
UPLOAD_CHUNK_BYTES = 8 * 2**20
#: Default ``STAMP_MAX_UPLOAD_MB``: room for a real JWST time series (e.g. 10,000 × 2,040 in 5 segments, ~2.8 GB).
DEFAULT_MAX_UPLOAD_MB = 8192
#: Headers a client sends or controls itself: never proof of who the user is (STAMP_AUTH_HEADER).
CLIENT_HEADERS = frozenset({
    "host", "cookie", "authorization", "proxy-authorization", "user-agent", "accept", "accept-encoding",
    "accept-language", "accept-charset", "connection", "content-type", "content-length", "content-encoding",
    "origin", "referer", "cache-control", "pragma", "upgrade", "upgrade-insecure-requests", "te", "trailer",
    "transfer-encoding", "expect", "range", "dnt", "priority", "keep-alive", "via", "forwarded", "x-forwarded-for",
    "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "x-real-ip", "x-requested-with",
})


def _client_header(name: str) -> bool:
    lowered = name.lower()
    return lowered in CLIENT_HEADERS or lowered.startswith(("sec-", "if-", "access-control-"))


class ConfigError(ValueError):
    """An environment variable has a value the dashboard cannot use."""


@dataclass(frozen=True)
class Config:
    """Settings of one dashboard instance (see the module docstring for the variables).

    Attributes
    ----------
    url_prefix : str
        Starts and ends with ``/``.
    data_dir : Path or None
        Resolved server data folder, or None when users may only upload.
    cache_dir : Path
        Root of ``uploads/``, ``cubes/`` and ``jobs/``.
    cache_size_mb, max_upload_mb : int
    upload_ttl_hours : float
    frame_ancestors : tuple of str
        Origins allowed to frame the app; empty refuses framing.
    background : {"diskcache", "celery"}
    redis_url : str or None
    demo_path : Path or None
    """

    url_prefix: str = "/"
    data_dir: Path | None = None
    cache_dir: Path = field(default_factory=lambda: default_cache_dir({}))
    cache_size_mb: int = 2048
    max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB
    upload_ttl_hours: float = 24.0
    frame_ancestors: tuple[str, ...] = ()
    background: str = "diskcache"
    redis_url: str | None = None
    demo_path: Path | None = SHIPPED_DEMO
    display_max_time: int = 600
    display_max_wavelength: int = 500
    auth_header: str | None = None
    basic_auth: tuple[tuple[str, str], ...] = ()
    max_jobs: int = 8
    max_session_jobs: int = 2
    job_timeout_s: float = 600.0
    job_memory_mb: int = 3072
    pin_minutes: float = 30.0
    session_quota_mb: int = 2048
    storage_quota_mb: int = 20480
    min_free_mb: int = 512
    max_upload_files: int = 1000
    workers: int | None = None
    threads: int = 4
    timeout_s: int = 300

    def __post_init__(self) -> None:
        object.__setattr__(self, "url_prefix", normalize_prefix(self.url_prefix))
        object.__setattr__(self, "cache_dir", Path(self.cache_dir))
        for name in ("data_dir", "demo_path"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, Path(getattr(self, name)))
        object.__setattr__(self, "frame_ancestors", tuple(self.frame_ancestors))
        if self.background not in BACKGROUNDS:
            raise ConfigError(f"STAMP_BACKGROUND must be one of {', '.join(BACKGROUNDS)}, not {self.background!r}")
        if self.background == "celery" and not self.redis_url:
            raise ConfigError("STAMP_BACKGROUND=celery needs STAMP_REDIS_URL (e.g. redis://localhost:6379/0)")
        for origin in self.frame_ancestors:
            if not _ORIGIN.match(origin):
                raise ConfigError(
                    f"STAMP_FRAME_ANCESTORS: {origin!r} is not an origin like https://portal.example.org"
                )
        if self.cache_size_mb <= 0 or self.max_upload_mb <= 0 or self.upload_ttl_hours <= 0:
            raise ConfigError("STAMP_CACHE_SIZE_MB, STAMP_MAX_UPLOAD_MB and STAMP_UPLOAD_TTL_HOURS must be positive")
        if self.auth_header is not None and not re.fullmatch(r"[A-Za-z0-9-]+", self.auth_header):
            raise ConfigError(f"STAMP_AUTH_HEADER: {self.auth_header!r} is not a header name like X-Remote-User")
        if self.auth_header is not None and _client_header(self.auth_header):
            raise ConfigError(
                f"STAMP_AUTH_HEADER={self.auth_header}: browsers send (or set) this header themselves, so it "
                "proves nothing about the user; name the header only your proxy sets, e.g. X-Remote-User"
            )
        object.__setattr__(self, "basic_auth", tuple(tuple(pair) for pair in self.basic_auth))
        for user, secret in self.basic_auth:
            if not user or not secret or ":" in user:
                raise ConfigError("STAMP_BASIC_AUTH: each entry must be user:password or user:<hash>")
            problem = secret_problem(secret)
            if problem is not None:
                raise ConfigError(f"STAMP_BASIC_AUTH: the secret of user {user!r} {problem}")
        if min(self.max_jobs, self.max_session_jobs, self.threads, self.timeout_s) <= 0 or (
            self.workers is not None and self.workers <= 0
        ) or self.job_timeout_s <= 0 or self.pin_minutes <= 0 or self.job_memory_mb <= 0:
            raise ConfigError(
                "STAMP_MAX_JOBS, STAMP_MAX_SESSION_JOBS, STAMP_JOB_TIMEOUT_S, STAMP_JOB_MEMORY_MB, STAMP_PIN_MINUTES, "
                "STAMP_WORKERS, STAMP_THREADS and STAMP_TIMEOUT_S must be positive"
            )
        if min(self.session_quota_mb, self.storage_quota_mb, self.max_upload_files) <= 0 or self.min_free_mb < 0:
            raise ConfigError(
                "STAMP_SESSION_QUOTA_MB, STAMP_STORAGE_QUOTA_MB and STAMP_MAX_UPLOAD_FILES must be positive, "
                "STAMP_MIN_FREE_MB zero or more"
            )
        if not (10 <= self.display_max_time <= 5000 and 10 <= self.display_max_wavelength <= 5000):
            raise ConfigError("STAMP_DISPLAY_MAX_TIME and STAMP_DISPLAY_MAX_WAVE must be between 10 and 5000")

    # ------------------------------------------------------------------ build
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Config":
        """Settings from ``environ`` (default ``os.environ``); unset or empty variables take defaults.

        Raises
        ------
        ConfigError
            Naming the variable whose value is unusable.
        """
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            return env_value(env, name, str, None)

        data_dir = get("STAMP_DATA_DIR")
        if data_dir is not None:
            resolved = Path(data_dir).expanduser().resolve()
            if not resolved.is_dir():
                raise ConfigError(f"STAMP_DATA_DIR: {data_dir} is not a folder")
            data_dir = resolved
        demo = get("STAMP_DEMO")
        if demo is None:
            demo_path: Path | None = SHIPPED_DEMO
        elif demo.lower() in ("none", "off", "0", "false"):
            demo_path = None
        else:
            demo_path = Path(demo).expanduser().resolve()
            if not demo_path.is_file():
                raise ConfigError(f"STAMP_DEMO: {demo} is not a file")
        cache_dir = get("STAMP_CACHE_DIR")
        return cls(
            url_prefix=get("STAMP_URL_PREFIX") or "/",
            data_dir=data_dir,
            cache_dir=Path(cache_dir).expanduser().resolve() if cache_dir else default_cache_dir(env),
            cache_size_mb=_number(env, "STAMP_CACHE_SIZE_MB", 2048, int),
            max_upload_mb=_number(env, "STAMP_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB, int),
            upload_ttl_hours=_number(env, "STAMP_UPLOAD_TTL_HOURS", 24.0, float),
            frame_ancestors=tuple(o for o in re.split(r"[\s,]+", get("STAMP_FRAME_ANCESTORS") or "") if o),
            background=(get("STAMP_BACKGROUND") or "diskcache").lower(),
            redis_url=get("STAMP_REDIS_URL"),
            demo_path=demo_path,
            display_max_time=_number(env, "STAMP_DISPLAY_MAX_TIME", 600, int),
            display_max_wavelength=_number(env, "STAMP_DISPLAY_MAX_WAVE", 500, int),
            auth_header=get("STAMP_AUTH_HEADER"),
            basic_auth=parse_basic_auth(get("STAMP_BASIC_AUTH") or ""),
            max_jobs=_number(env, "STAMP_MAX_JOBS", 8, int),
            max_session_jobs=_number(env, "STAMP_MAX_SESSION_JOBS", 2, int),
            job_timeout_s=_number(env, "STAMP_JOB_TIMEOUT_S", 600.0, float),
            job_memory_mb=_number(env, "STAMP_JOB_MEMORY_MB", 3072, int),
            pin_minutes=_number(env, "STAMP_PIN_MINUTES", 30.0, float),
            session_quota_mb=_number(env, "STAMP_SESSION_QUOTA_MB", 2048, int),
            storage_quota_mb=_number(env, "STAMP_STORAGE_QUOTA_MB", 20480, int),
            min_free_mb=_number(env, "STAMP_MIN_FREE_MB", 512, int),
            max_upload_files=_number(env, "STAMP_MAX_UPLOAD_FILES", 1000, int),
            workers=_number(env, "STAMP_WORKERS", None, int),
            threads=_number(env, "STAMP_THREADS", 4, int),
            timeout_s=_number(env, "STAMP_TIMEOUT_S", 300, int),
        )

    # -------------------------------------------------------------- derived
    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def max_request_bytes(self) -> int:
        """Largest HTTP request body: one upload chunk and a little (callbacks never carry file contents)."""
        return UPLOAD_CHUNK_BYTES + 1024 * 1024

    @property
    def display_limits(self) -> dict[str, int]:
        """Keyword arguments of :func:`stamp_engine.figures.display_cube` and the figure builders."""
        return {"max_time": self.display_max_time, "max_wavelength": self.display_max_wavelength}

    @property
    def auth_enabled(self) -> bool:
        return self.auth_header is not None or bool(self.basic_auth)

    @property
    def uploads_dir(self) -> Path:
        return self.cache_dir / "uploads"

    @property
    def cubes_dir(self) -> Path:
        return self.cache_dir / "cubes"

    @property
    def jobs_dir(self) -> Path:
        return self.cache_dir / "jobs"

    @property
    def downloads_dir(self) -> Path:
        """Built downloads waiting to be fetched (:mod:`dashboard.server.download_route`)."""
        return self.cache_dir / "downloads"

    @property
    def scratch_dir(self) -> Path:
        """Per-job scratch folders (archive expansion); removed when the job ends or its process died."""
        return self.cache_dir / "scratch"


def format_size(n_bytes: int) -> str:
    """``"3.1 GB"``, ``"1.5 MB"``, ``"200 MB"``, ``"12 KB"``, ``"5 bytes"`` (1 MB = 2**20 bytes, as ``STAMP_MAX_UPLOAD_MB``).

    Three significant digits at most, trailing zeros dropped; ``assets/stamp_upload.js``
    (``formatSize``) words sizes the same way.
    """
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n_bytes >= scale:
            value = n_bytes / scale
            decimals = 2 if value < 10 else 1 if value < 100 else 0
            text = f"{value:.{decimals}f}"
            return (text.rstrip("0").rstrip(".") if "." in text else text) + f" {unit}"
    return f"{n_bytes} bytes"


def parse_basic_auth(raw: str) -> tuple[tuple[str, str], ...]:
    """``"alice:secret bob:sha256$…"`` → ``(("alice", "secret"), ("bob", "sha256$…"))``.

    Raises
    ------
    ConfigError
        When an entry has no ``:``.
    """
    pairs = []
    for entry in re.split(r"[\s,]+", raw.strip()):
        if not entry:
            continue
        user, sep, secret = entry.partition(":")
        if not sep or not user or not secret:
            raise ConfigError("STAMP_BASIC_AUTH: each entry must be user:password or user:<hash>")
        pairs.append((user, secret))
    return tuple(pairs)


def default_cache_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME/stamp``, else ``~/.cache/stamp``."""
    base = env_value(environ, "XDG_CACHE_HOME", str, None)
    return (Path(base) if base else Path.home() / ".cache") / "stamp"


def normalize_prefix(prefix: str) -> str:
    """``"stamp"``, ``"/stamp"`` and ``"/stamp/"`` all become ``"/stamp/"``.

    Raises
    ------
    ConfigError
        When the prefix holds characters a URL path segment should not.
    """
    parts = [p for p in prefix.strip().split("/") if p]
    for part in parts:
        if part in (".", "..") or not re.fullmatch(r"[A-Za-z0-9._~-]+", part):
            raise ConfigError(f"STAMP_URL_PREFIX: {prefix!r} is not a plain URL path like /tools/stamp/")
    return "/" + "".join(f"{p}/" for p in parts)


def _number(env: Mapping[str, str], name: str, default, kind):
    """``kind`` (int or float) from ``name``, by the engine's one rule for variables (ranges: ``__post_init__``)."""
    try:
        return env_value(env, name, kind, default)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
