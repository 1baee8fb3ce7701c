"""HTTP security headers on every response, and optional access control (user header or basic auth)."""

from __future__ import annotations

import hashlib
import hmac

from flask import Response

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
    """``python -m dashboard.security``: print a ``STAMP_BASIC_AUTH`` hash of a password typed twice."""
    import getpass
    import sys

    args = sys.argv[1:] if argv is None else argv
    user = args[0] if args else "stamp"
    password = getpass.getpass(f"Password for {user}: ")
    if password != getpass.getpass("Again: "):
        print("The two passwords differ.", file=sys.stderr)
        return 1
    print(f"STAMP_BASIC_AUTH='{user}:{hash_password(password)}'")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
