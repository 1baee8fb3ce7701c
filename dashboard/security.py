"""HTTP security headers added to every response."""

from __future__ import annotations

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
