"""HTTP security headers on every response, and optional access control (user header or basic auth)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Sequence

from flask import Response

if TYPE_CHECKING:
    from .config import Config


def security_headers(config: Config, script_hashes: Sequence[str] = ()) -> dict[str, str]:
    """The headers every response carries under ``config``.

    Framing is refused unless ``config.frame_ancestors`` names the origins allowed to
    embed the app (CSP ``frame-ancestors``; ``X-Frame-Options`` cannot express a list,
    so it is only sent when framing is refused).  Scripts run only from the app's own
    origin and the inline scripts Dash itself writes (``script_hashes``, from
    :meth:`dash.Dash.csp_hashes`): an injected inline script or handler never runs.
    ``'unsafe-eval'`` stays because Plotly's WebGL traces (the 3D surface) compile
    their shaders' helpers with ``new Function``.
    """
    ancestors = " ".join(config.frame_ancestors) if config.frame_ancestors else "'none'"
    scripts = " ".join(["'self'", "'unsafe-eval'", *script_hashes])  # csp_hashes() are quoted already
    headers = {
        "Content-Security-Policy": (
            f"script-src {scripts}; frame-ancestors {ancestors}; object-src 'none'; base-uri 'self'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if not config.frame_ancestors:
        headers["X-Frame-Options"] = "DENY"
    return headers


def install_security_headers(server, config: Config, dash_app=None) -> None:
    """Add :func:`security_headers` to every response of the Flask ``server``.

    With ``dash_app`` the CSP names the hashes of its inline scripts, computed at the
    first request (after every clientside callback has been registered).
    """
    cached: dict[str, dict[str, str]] = {}

    @server.after_request
    def _add_headers(response: Response) -> Response:
        if "headers" not in cached:
            cached["headers"] = security_headers(config, dash_app.csp_hashes() if dash_app is not None else ())
        for name, value in cached["headers"].items():
            response.headers.setdefault(name, value)
        return response


# ------------------------------------------------------------------ access control
#: Iterations of a fresh PBKDF2-SHA256 hash (OWASP 2023 recommendation).
PBKDF2_ITERATIONS = 600_000

#: Paths answered without credentials: the container health check must not need a password.
PUBLIC_ENDPOINTS = ("healthz",)


def hash_password(password: str, *, iterations: int = PBKDF2_ITERATIONS, salt: str | None = None) -> str:
    """``pbkdf2_sha256$<iterations>$<salt>$<hex>`` of ``password``, for ``STAMP_BASIC_AUTH=user:<this>``."""
    import secrets

    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations).hex()
    return f"pbkdf2_sha256${iterations}${salt}${digest}"


_HEX_DIGEST = r"[0-9a-fA-F]{64}"
#: Secrets of the hash kinds :func:`password_matches` checks, in full.
_HASH_FORMATS = {
    "pbkdf2_sha256": re.compile(rf"pbkdf2_sha256\$[0-9]+\$[^$\s]+\${_HEX_DIGEST}"),
    "sha256": re.compile(rf"sha256\${_HEX_DIGEST}"),
}


def secret_problem(secret: str) -> str | None:
    """Why a ``STAMP_BASIC_AUTH`` secret cannot be what its writer meant, or None.

    A value that starts like a hash (``pbkdf2_sha256``, ``sha256``) but lacks its
    ``$``-separated parts is almost always a hash the shell expanded inside double
    quotes (``$600000`` → ``00000``, ``$salt`` → empty).  Accepting it as a plain
    password would make every login fail with no hint, so the server refuses it.
    """
    for kind, pattern in _HASH_FORMATS.items():
        if secret.lower().startswith(kind) and not pattern.fullmatch(secret):
            expected = "pbkdf2_sha256$<iterations>$<salt>$<64 hex digits>" if kind == "pbkdf2_sha256" \
                else "sha256$<64 hex digits>"
            return (f"looks like a {kind} hash with its $ parts missing or cut (expected {expected}); "
                    "a shell expands $… inside double quotes: put the whole value in single quotes, "
                    "e.g. STAMP_BASIC_AUTH='alice:pbkdf2_sha256$600000$…'")
    return None


def password_matches(secret: str, password: str) -> bool:
    """Whether ``password`` matches a ``STAMP_BASIC_AUTH`` secret (plain, ``sha256$hex`` or PBKDF2), in constant time."""
    kind, _, rest = secret.partition("$")
    if kind == "sha256" and rest:
        given = hashlib.sha256(password.encode()).hexdigest()
        return hmac.compare_digest(given, rest.lower())
    if kind == "pbkdf2_sha256" and rest.count("$") == 2:
        iterations, salt, expected = rest.split("$")
        if not iterations.isdigit():
            return False
        given = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations)).hex()
        return hmac.compare_digest(given, expected.lower())
    return hmac.compare_digest(password.encode(), secret.encode())


#: Cookie holding a signed sign-in after one basic-auth check (HttpOnly, Secure).
LOGIN_COOKIE = "stamp_login"
#: How long one sign-in lasts before the password is checked again.
LOGIN_TTL_S = 12 * 3600
#: Failed sign-ins one address may make within :data:`FAILED_LOGIN_WINDOW_S` before it must wait.
MAX_FAILED_LOGINS = 10
FAILED_LOGIN_WINDOW_S = 60.0


@functools.lru_cache(maxsize=1)
def _unknown_user_secret() -> str:
    """Stands in for an unknown user name's secret, so a wrong name costs what a wrong password does."""
    return hash_password(secrets.token_hex(8))


@functools.lru_cache(maxsize=16)
def server_secret(config: Config) -> bytes:
    """The key that signs sign-in cookies and download links: random, made once, shared by every process
    through the cache folder."""
    path = config.cache_dir / "server-secret"
    config.cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    for _ in range(50):  # another process may be writing it this instant
        key = path.read_text().strip()
        if len(key) == 64:
            return key.encode()
        time.sleep(0.01)
    from .config import ConfigError  # config imports this module for secret_problem

    raise ConfigError(f"{path} does not hold a usable key: delete it and restart")


def basic_auth_user(config: Config, authorization) -> str | None:
    """The user whose basic-auth credentials these are, checking one password hash whatever the name."""
    if authorization is None or authorization.type != "basic":
        return None
    username, password = authorization.username or "", authorization.password or ""
    secret = _unknown_user_secret()
    found = None
    for user, candidate in config.basic_auth:  # compare every name: the time does not tell which exist
        if hmac.compare_digest(user.encode(), username.encode()):
            secret, found = candidate, user
    ok = password_matches(secret, password)
    return found if ok and found is not None else None


class LoginCookies:
    """Signed sign-ins: ``{"u": user, "k": fingerprint of the user's secret}`` with a timestamp.

    Checking a cookie is one HMAC; a changed password (another fingerprint) or an
    older cookie than :data:`LOGIN_TTL_S` is refused.
    """

    def __init__(self, config: Config):
        from itsdangerous import URLSafeTimedSerializer

        self.serializer = URLSafeTimedSerializer(server_secret(config), salt="stamp-login")
        self.fingerprints = {user: hashlib.sha256(secret.encode()).hexdigest()[:16] for user, secret in config.basic_auth}

    def issue(self, user: str) -> str:
        return self.serializer.dumps({"u": user, "k": self.fingerprints[user]})

    def user(self, cookie: str | None) -> str | None:
        from itsdangerous import BadSignature

        if not cookie or len(cookie) > 400:
            return None
        try:
            data = self.serializer.loads(cookie, max_age=LOGIN_TTL_S)
        except BadSignature:
            return None
        user = data.get("u") if isinstance(data, dict) else None
        if user in self.fingerprints and hmac.compare_digest(str(data.get("k", "")), self.fingerprints[user]):
            return user
        return None


class FailedLogins:
    """Failed sign-ins per client address in a sliding window (per process: each web worker counts its own)."""

    def __init__(self, limit: int = MAX_FAILED_LOGINS, window_s: float = FAILED_LOGIN_WINDOW_S, max_addresses: int = 10000):
        self.limit, self.window_s, self.max_addresses = limit, window_s, max_addresses
        self._failures: dict[str, deque] = {}
        self._lock = threading.Lock()

    def wait_s(self, address: str, now: float | None = None) -> float:
        """Seconds ``address`` must wait before its next sign-in is checked (0: go ahead)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            recent = self._failures.get(address)
            while recent and now - recent[0] > self.window_s:
                recent.popleft()
            if not recent or len(recent) < self.limit:
                return 0.0
            return self.window_s - (now - recent[0])

    def failed(self, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            if address not in self._failures and len(self._failures) >= self.max_addresses:
                self._failures = {a: d for a, d in self._failures.items() if d and now - d[-1] <= self.window_s}
            self._failures.setdefault(address, deque()).append(now)


def install_access_control(server, config: Config) -> None:
    """Refuse requests without the trusted user header or a valid sign-in (when configured).

    Basic-auth passwords are checked once (one PBKDF2 hash, at most
    :data:`MAX_FAILED_LOGINS` failures per address and minute); the answer then sets a
    signed, HttpOnly, Secure cookie that later requests show instead (one HMAC each).
    When framing is allowed the cookie is ``SameSite=None`` so that it works in the
    portal's iframe; otherwise ``Lax``.
    """
    if not config.auth_enabled:
        return
    from flask import g, jsonify, request

    cookies = LoginCookies(config) if config.basic_auth else None
    failures = FailedLogins()
    same_site = "None" if config.frame_ancestors else "Lax"

    def refuse(message: str, status: int = 401, retry_after: float | None = None):
        response = jsonify(error=message)
        response.status_code = status
        if config.basic_auth and status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="STAMP", charset="UTF-8"'
        if retry_after is not None:
            response.headers["Retry-After"] = str(max(1, int(retry_after + 0.999)))
        return response

    @server.before_request
    def _check_user():
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if config.auth_header is not None:
            user = (request.headers.get(config.auth_header) or "").strip()
            if user:
                g.stamp_user = user
                return None
        if cookies is not None:
            user = cookies.user(request.cookies.get(LOGIN_COOKIE))
            if user is not None:
                g.stamp_user = user
                return None
            if request.authorization is not None and request.authorization.type == "basic":
                address = request.remote_addr or "unknown"
                wait = failures.wait_s(address)
                if wait > 0:
                    return refuse(f"Too many failed sign-ins from your address: try again in {wait:.0f} s", 429, wait)
                user = basic_auth_user(config, request.authorization)
                if user is not None:
                    g.stamp_user, g.stamp_login = user, cookies.issue(user)
                    return None
                failures.failed(address)
        return refuse("Sign in to use STAMP")

    @server.after_request
    def _remember_login(response):
        login = g.pop("stamp_login", None)
        if login is not None:
            response.set_cookie(LOGIN_COOKIE, login, max_age=LOGIN_TTL_S, path=config.url_prefix, secure=True,
                                httponly=True, samesite=same_site)
        return response


def main(argv: list[str] | None = None) -> int:
    """``python -m dashboard.server.security [USER]``: print a ``STAMP_BASIC_AUTH`` entry for a new password.

    From a terminal the password is asked twice without echo; from a pipe the first line
    of standard input is the password.  Returns the exit status (0 success, 1 refused or
    interrupted, 2 usage error); problems are one line on stderr, never a traceback.
    """
    import argparse
    import getpass
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m dashboard.server.security",
        description="Make a STAMP_BASIC_AUTH entry (user:pbkdf2_sha256$…) for a password. "
                    "From a terminal the password is asked twice; otherwise the first line of "
                    "standard input is read (e.g. printf '%s\\n' \"$PW\" | python -m dashboard.server.security alice).",
        epilog="Paste the printed line as it is: the single quotes keep the shell from expanding the $ parts.",
    )
    parser.add_argument("user", nargs="?", default="stamp", help="user name (default: stamp); no ':' or spaces")
    args = parser.parse_args(argv)
    user = args.user
    if not user or ":" in user or any(ch.isspace() for ch in user):
        print(f"python -m dashboard.server.security: the user name {user!r} may not be empty or hold ':' or spaces",
              file=sys.stderr)
        return 2
    try:
        if sys.stdin is not None and sys.stdin.isatty():
            password = getpass.getpass(f"Password for {user}: ")
            if password != getpass.getpass("Again: "):
                print("The two passwords differ; nothing was printed.", file=sys.stderr)
                return 1
        else:
            line = sys.stdin.readline() if sys.stdin is not None else ""
            password = line[:-1] if line.endswith("\n") else line
            password = password[:-1] if password.endswith("\r") else password
    except (KeyboardInterrupt, EOFError):
        print("\nInterrupted; nothing was printed.", file=sys.stderr)
        return 1
    if not password:
        print("Empty password (nothing on standard input?); nothing was printed.", file=sys.stderr)
        return 1
    print(f"STAMP_BASIC_AUTH='{user}:{hash_password(password)}'")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
