"""HTTP security headers on every response, and optional access control (user header or basic auth)."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import TYPE_CHECKING

from flask import Response

if TYPE_CHECKING:
    from .config import Config


def security_headers(config: Config) -> dict[str, str]:
    """The headers every response carries under ``config``.

    Framing is refused unless ``config.frame_ancestors`` names the origins allowed to
    embed the app (CSP ``frame-ancestors``; ``X-Frame-Options`` cannot express a list,
    so it is only sent when framing is refused).  Scripts are not restricted by CSP:
    Dash's page bootstraps itself with an inline script.
    """
    ancestors = " ".join(config.frame_ancestors) if config.frame_ancestors else "'none'"
    headers = {
        "Content-Security-Policy": f"frame-ancestors {ancestors}; object-src 'none'; base-uri 'self'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if not config.frame_ancestors:
        headers["X-Frame-Options"] = "DENY"
    return headers


def install_security_headers(server, config: Config) -> None:
    """Add :func:`security_headers` to every response of the Flask ``server``."""
    headers = security_headers(config)

    @server.after_request
    def _add_headers(response: Response) -> Response:
        for name, value in headers.items():
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


def authenticated_user(config: Config, headers, authorization) -> str | None:
    """Who makes the request, or None when access control refuses it.

    Parameters
    ----------
    headers : mapping
        The request headers (``STAMP_AUTH_HEADER`` is read from them).
    authorization : werkzeug Authorization or None
        ``request.authorization`` (HTTP basic credentials).

    Returns
    -------
    str or None
        ``"anonymous"`` when access control is off.
    """
    if not config.auth_enabled:
        return "anonymous"
    if config.auth_header is not None:
        user = (headers.get(config.auth_header) or "").strip()
        if user:
            return user
    if config.basic_auth and authorization is not None and authorization.type == "basic":
        username, password = authorization.username or "", authorization.password or ""
        for user, secret in config.basic_auth:
            # Check every entry so the time taken does not reveal which user names exist.
            ok = hmac.compare_digest(user.encode(), username.encode()) & password_matches(secret, password)
            if ok:
                return user
    return None


def install_access_control(server, config: Config) -> None:
    """Refuse requests without the trusted user header or valid basic-auth credentials (when configured)."""
    if not config.auth_enabled:
        return
    from flask import g, jsonify, request

    @server.before_request
    def _check_user():
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        user = authenticated_user(config, request.headers, request.authorization)
        if user is None:
            response = jsonify(error="Sign in to use STAMP")
            response.status_code = 401
            if config.basic_auth:
                response.headers["WWW-Authenticate"] = 'Basic realm="STAMP", charset="UTF-8"'
            return response
        g.stamp_user = user
        return None


def main(argv: list[str] | None = None) -> int:
    """``python -m dashboard.security [USER]``: print a ``STAMP_BASIC_AUTH`` entry for a new password.

    From a terminal the password is asked twice without echo; from a pipe the first line
    of standard input is the password.  Returns the exit status (0 success, 1 refused or
    interrupted, 2 usage error); problems are one line on stderr, never a traceback.
    """
    import argparse
    import getpass
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m dashboard.security",
        description="Make a STAMP_BASIC_AUTH entry (user:pbkdf2_sha256$…) for a password. "
                    "From a terminal the password is asked twice; otherwise the first line of "
                    "standard input is read (e.g. printf '%s\\n' \"$PW\" | python -m dashboard.security alice).",
        epilog="Paste the printed line as it is: the single quotes keep the shell from expanding the $ parts.",
    )
    parser.add_argument("user", nargs="?", default="stamp", help="user name (default: stamp); no ':' or spaces")
    args = parser.parse_args(argv)
    user = args.user
    if not user or ":" in user or any(ch.isspace() for ch in user):
        print(f"python -m dashboard.security: the user name {user!r} may not be empty or hold ':' or spaces",
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
