"""Built downloads kept on disk and streamed by one Flask route, never sent through a callback.

A download job moves its finished file to
``<cache>/downloads/<session hash>/<token>/<file name>`` (:func:`publish`) and hands
the page only the URL ``<prefix>download/<token>/<file name>?k=<key>``, where the key
is the token and the session hash signed by the server (itsdangerous, timestamped).
The page navigates to it; :func:`register` adds the route that streams the file
(``flask.send_file``: conditional, as attachment) only when

* the token is one :func:`publish` could have made and the file name one the
  dashboard writes (nothing else is ever joined to a path),
* the key's signature holds, it names this token, and the file lies in the folder of
  the session it names — another page's token, a forged one or one without its key
  finds nothing, and
* the key and the token folder are younger than :data:`TOKEN_TTL_S`.

The link carries its own proof, not a cookie: inside a portal's iframe on another
site, browsers drop the page's cookies (third-party), which used to leave the route
answering 404 while the page said "Sent".  Within its hour the link can be fetched
again (a retry, a resumed range request).

Every answer that serves nothing is the same 404.  Access control
(:func:`dashboard.server.security.install_access_control`) covers this route like every
other.  Download folders older than ``STAMP_UPLOAD_TTL_HOURS`` are removed whenever
a download is published or requested.
"""

from __future__ import annotations

import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ..cache import session_hash
from .config import Config
from .folders import FolderStore, older_than

#: A token older than this is refused (the page asks for its file at once).
TOKEN_TTL_S = 3600.0
#: The route's endpoint name (its URL is ``<prefix>download/<token>/<file name>``).
ENDPOINT = "stamp_download"

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
#: File type of each name the dashboard writes; any other name is refused.
MIME_OF_SUFFIX = {
    ".zip": "application/zip",
    ".html": "text/html",
    ".mp4": "video/mp4",
    ".ecsv": "text/plain",
    ".csv": "text/csv",
    ".fits": "application/fits",
}
_FILENAME = re.compile(r"^[A-Za-z0-9_]{1,100}(" + "|".join(re.escape(s) for s in MIME_OF_SUFFIX) + r")$")


def downloads_dir(config: Config) -> Path:
    """``<cache>/downloads``: one folder per session hash, one per token inside."""
    return config.downloads_dir


@dataclass(frozen=True)
class Download:
    """A built file waiting in the session's download folder for the browser to fetch it.

    Attributes
    ----------
    path : Path
        Where it lies (``<cache>/downloads/<session hash>/<token>/<filename>``).
    token : str
        The random part of ``url``.
    url : str
        What the browser fetches it from (:func:`register`).
    """

    path: Path
    token: str
    url: str

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def mime(self) -> str:
        """The type the route serves it as."""
        return MIME_OF_SUFFIX[self.path.suffix]

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def publish(config: Config, session: str | None, built: Path) -> Download:
    """Move ``built`` (a file under the cache folder) to a new token folder of ``session``.

    Parameters
    ----------
    session : str
        The page's session id (only its hash is stored).
    built : Path
        The finished file; its name must be one :data:`MIME_OF_SUFFIX` accepts.

    Raises
    ------
    ValueError
        For a file name the route would refuse to serve.
    """
    if not _FILENAME.match(built.name):
        raise ValueError(f"{built.name!r} is not a download file name")
    root = downloads_dir(config)
    prune(config)
    token = secrets.token_urlsafe(32)
    folder = root / session_hash(session) / token
    folder.mkdir(parents=True, mode=0o700)
    target = folder / built.name
    shutil.move(str(built), target)  # a rename: both lie under the cache folder
    key = _signer(config).dumps([token, session_hash(session)])
    return Download(path=target, token=token, url=f"{config.url_prefix}download/{token}/{built.name}?k={key}")


def _signer(config: Config):
    from itsdangerous import URLSafeTimedSerializer

    from .security import server_secret

    return URLSafeTimedSerializer(server_secret(config), salt="stamp-download")


def session_of_key(config: Config, token: str, key: str | None) -> str | None:
    """The session hash a download ``key`` was signed for, if it is genuine, fresh and names ``token``."""
    from itsdangerous import BadSignature

    if not isinstance(key, str) or not 0 < len(key) <= 300:
        return None
    try:
        signed_token, owner = _signer(config).loads(key, max_age=TOKEN_TTL_S)
    except (BadSignature, ValueError, TypeError):
        return None
    if not (isinstance(signed_token, str) and isinstance(owner, str) and signed_token == token):
        return None
    return owner if re.fullmatch(r"[0-9a-f]{16}", owner) else None


def prune(config: Config, now: float | None = None) -> list[Path]:
    """Remove token folders older than ``STAMP_UPLOAD_TTL_HOURS`` and session folders left empty."""
    return FolderStore(
        downloads_dir(config), items="*", stale_item=older_than(config.upload_ttl_hours * 3600.0),
        drop_empty_owners=True,
    ).sweep(now)


def locate(config: Config, token: str, filename: str, key: str | None, now: float | None = None) -> Path | None:
    """The published file behind ``token``/``filename`` if ``key`` was signed for it and it is fresh, else None."""
    if not (isinstance(token, str) and _TOKEN.match(token) and isinstance(filename, str) and _FILENAME.match(filename)):
        return None
    owner = session_of_key(config, token, key)
    if owner is None:
        return None
    root = downloads_dir(config).resolve()
    folder = root / owner / token
    path = folder / filename
    try:
        if path.is_symlink() or not path.is_file() or path.resolve().parent != folder:
            return None
        age = (time.time() if now is None else now) - folder.stat().st_mtime
    except OSError:
        return None
    return path if 0 <= age <= TOKEN_TTL_S else None


def register(server, services) -> None:
    """Add ``<prefix>download/<token>/<file name>`` to the Flask ``server``."""
    from flask import abort, request, send_file

    config = services.config

    def serve(token: str, filename: str):
        prune(config)
        path = locate(config, token, filename, request.args.get("k"))
        if path is None:
            abort(404)
        response = send_file(
            path, mimetype=MIME_OF_SUFFIX[path.suffix], as_attachment=True, download_name=filename,
            conditional=True, max_age=0,
        )
        response.headers["Cache-Control"] = "private, no-store"
        return response

    def nothing(rest: str = ""):
        abort(404)

    server.add_url_rule(f"{config.url_prefix}download/<token>/<filename>", ENDPOINT, serve)
    # Anything else under download/ is a 404 too, not Dash's page (its catch-all answers every path).
    server.add_url_rule(f"{config.url_prefix}download/", f"{ENDPOINT}_none", nothing)
    server.add_url_rule(f"{config.url_prefix}download/<path:rest>", f"{ENDPOINT}_other", nothing)
