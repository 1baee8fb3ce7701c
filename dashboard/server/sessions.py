"""Page sessions issued by the server, not chosen by the browser.

Each page load gets ``<32 hex nonce><32 hex HMAC of it>`` (the server's key,
:func:`dashboard.server.security.server_secret`), 64 hex characters — the form upload folders
and tickets already accept.  Callbacks that act for a session (upload, process,
download) run only for a session this server issued: a page cannot make up one, send
another format, or send none (``null``) to slip past the per-page checks.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from .config import Config
from .security import server_secret

_SESSION = re.compile(r"^[0-9a-f]{64}$")

#: What a page is told when its session is not one this server issued.
NOT_ISSUED = "This page's session was not issued by this server (or is missing): reload the page."


def _mac(config: Config, nonce: str) -> str:
    return hmac.new(server_secret(config), b"stamp-session:" + nonce.encode(), hashlib.sha256).hexdigest()[:32]


def issue_session(config: Config) -> str:
    """A new page session: a random nonce and the server's signature of it."""
    nonce = secrets.token_hex(16)
    return nonce + _mac(config, nonce)


def is_issued(config: Config, session: object) -> bool:
    """Whether ``session`` is one :func:`issue_session` made with this server's key."""
    if not isinstance(session, str) or not _SESSION.match(session):
        return False
    return hmac.compare_digest(session[32:], _mac(config, session[:32]))
