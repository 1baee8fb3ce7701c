"""The app factory: one configured Dash app per call, nothing at module level."""

from __future__ import annotations

import hashlib
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html
from flask import Response, jsonify

from stamp_engine import web
from stamp_engine.settings import numpy_without_huge_pages

from . import ids
from .features import bands, controls, data_in, downloads, explore, job, science, url_state, views
from .server import download_route, upload_route
from .server.background import build_background_manager
from .server.config import UPLOAD_CHUNK_BYTES, Config, format_size
from .server.security import install_access_control, install_security_headers
from .server.services import Services, build_services
from .server.sessions import issue_session
from .server.storage import disk_health

#: URL path (under the prefix) of the engine's band-highlighting script, the same file
#: exported HTML pages inline (package data of ``stamp_engine.web``).
BANDS_SCRIPT_ROUTE = "_stamp/stamp_bands.js"


def assets_folder() -> Path:
    """Dash's assets folder: CSS and browser-side JavaScript (Bootstrap vendored: works offline).

    The repository keeps them in the top-level ``assets/``; a wheel ships that folder
    inside the package as ``dashboard/assets`` (setuptools ``package-dir`` mapping in
    pyproject.toml), which is preferred when present.
    """
    here = Path(__file__).resolve().parent
    installed = here / "assets"
    return installed if installed.is_dir() else here.parent / "assets"

TITLE = "STAMP — Spectral Time-series Analysis and Mapping Program"


def create_app(config: Config | None = None, *, loader=None) -> dash.Dash:
    """Build the dashboard.

    Parameters
    ----------
    config : Config, optional
        Default: :meth:`Config.from_env`.
    loader : callable, optional
        Replaces :func:`stamp_engine.load` (``loader(paths, progress=…)``); tests use it
        to count or slow down loads.

    Returns
    -------
    dash.Dash
        ``app.server`` is the Flask app (WSGI), with ``/healthz`` under the URL prefix.
    """
    numpy_without_huge_pages()  # before the job workers and reader children start
    config = config or Config.from_env()
    config.cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    services = build_services(config, loader=loader)
    manager = build_background_manager(config)
    app = dash.Dash(
        __name__,
        title=TITLE,
        assets_folder=str(assets_folder()),
        external_scripts=[_bands_script_url(config)],
        serve_locally=True,
        requests_pathname_prefix=config.url_prefix,
        routes_pathname_prefix=config.url_prefix,
        background_callback_manager=manager,
        suppress_callback_exceptions=False,
        update_title=None,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    server = app.server
    server.config["MAX_CONTENT_LENGTH"] = config.max_request_bytes
    server.extensions["stamp_background_manager"] = manager  # dashboard.server.wsgi exposes Celery's app from it
    server.extensions["stamp_services"] = services  # operators' scripts and tests reach the cube cache here
    install_security_headers(server, config, app)
    install_access_control(server, config)
    _add_routes(server, config, services, manager)
    download_route.register(server, services)
    upload_route.register(server, services)

    app.layout = lambda: page(services)
    # Callbacks are checked against this (the science panes are filled later: science.tabs).
    app.validation_layout = validation_layout(html.Div([page(services), *science.panes().values()]))
    for feature in (data_in, controls, bands, job, views, explore, science, downloads, url_state):
        feature.register(app, services)
    return app


def close_app(app: dash.Dash) -> None:
    """Close what :func:`create_app` opened in this process: the cube cache's and the job store's database connections.

    A server process keeps its app for its life; a process that builds many apps (a test
    suite, a notebook) closes each when done, or it holds three descriptors per connection
    for good.  Nothing on disk is removed.
    """
    services = app.server.extensions.get("stamp_services")
    if services is not None:
        services.cubes.cache.close()
    handle = getattr(app.server.extensions.get("stamp_background_manager"), "handle", None)
    if hasattr(handle, "close"):  # diskcache's job store; Celery's app holds no file
        handle.close()


def validation_layout(layout) -> html.Div:
    """Every component of ``layout`` that has an id, bare (its id only), side by side.

    What callbacks are checked against needs only the ids and the component types; Dash
    writes the validation layout into every page's HTML (and the renderer reads it), where
    the whole page with its props cost ~0.1 s of JSON encoding per page load (0.4 s under load).
    """
    bare = [type(component)(id=component.id) for component in layout._traverse()
            if getattr(component, "id", None) is not None]
    return html.Div(bare)


def _bands_script_url(config: Config) -> str:
    # the content hash in the query makes browsers fetch a changed script after an upgrade
    digest = hashlib.sha256(web.bands_script().encode("utf-8")).hexdigest()[:12]
    return f"{config.url_prefix}{BANDS_SCRIPT_ROUTE}?v={digest}"


def _add_routes(server, config: Config, services: Services, manager) -> None:
    def bands_script():
        return Response(web.bands_script(), mimetype="text/javascript",
                        headers={"Cache-Control": "public, max-age=3600"})

    server.add_url_rule(f"{config.url_prefix}{BANDS_SCRIPT_ROUTE}", "stamp_bands_script", bands_script)

    def healthz():
        # Healthy: {"status": "ok"}; otherwise 503 naming what failed (load balancers read the code).
        problems = {name: value for name, value in health_checks(services, manager).items() if value != "ok"}
        if problems:
            return jsonify(status="unavailable", **problems), 503
        return jsonify(status="ok")

    server.add_url_rule(f"{config.url_prefix}healthz", "healthz", healthz)

    @server.errorhandler(413)
    def too_large(_):
        # Files arrive in chunks (dashboard.server.upload_route), so no legitimate request is larger.
        return jsonify(error=f"Request larger than this server's limit of {format_size(config.max_request_bytes)} "
                             f"(files are uploaded in chunks of {format_size(UPLOAD_CHUNK_BYTES)})"), 413


def health_checks(services: Services, manager) -> dict[str, str]:
    """``{"cache": "ok", "disk": "ok", "broker": "ok"}``, or the failure of each in a few words.

    The cube cache is written and read back; the cache disk must have ``STAMP_MIN_FREE_MB``
    free; with Celery the broker (Redis) is pinged.
    """
    checks: dict[str, str] = {"disk": disk_health(services.config)}
    try:
        services.cubes.cache.check()
        checks["cache"] = "ok"
    except Exception as exc:  # noqa: BLE001 — any failure means unhealthy
        checks["cache"] = f"unreachable: {type(exc).__name__}"
    if isinstance(manager, dash.CeleryManager):
        try:
            with manager.handle.connection_for_write() as connection:
                connection.ensure_connection(max_retries=0, timeout=2)
            checks["broker"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["broker"] = f"unreachable: {type(exc).__name__}"
    return checks


def page(services: Services) -> html.Div:
    """The whole page; built per visit so each page load gets its own upload session."""
    config = services.config
    navbar = dbc.Navbar(
        dbc.Container([
            dbc.NavbarBrand("STAMP"),
            html.Span("Spectral Time-series Analysis and Mapping Program", className="navbar-text small text-light ms-2"),
        ], fluid=True),
        color="dark", dark=True, className="stamp-navbar mb-2",
    )
    sidebar = dbc.Col([
        data_in.layout(services),
        views.summary_layout(services),
        controls.processing_layout(services),
        controls.display_layout(services),
        bands.editor_layout(services),
        downloads.layout(services),
    ], lg=3, md=4, className="stamp-sidebar")
    main = dbc.Col([
        job.layout(services),
        url_state.layout(services),
        bands.buttons_layout(services),
        views.layout(services),
        explore.layout(services),
    ], lg=9, md=8, className="stamp-main")
    stores = [
        dcc.Store(id=ids.SESSION, data=issue_session(config)),
        dcc.Store(id=ids.DATASET, data={"kind": "demo"} if config.demo_path is not None else None),
        dcc.Store(id=ids.RESULT),
    ]
    # stamp.css: sidebar and views scroll independently, so the plot stays in view (see .stamp-page).
    return html.Div([navbar, dbc.Container(dbc.Row([sidebar, main]), fluid=True, className="stamp-body"), *stores],
                    className="stamp-page")
