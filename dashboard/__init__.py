"""STAMP's Plotly Dash dashboard: wires components to ``stamp_engine`` calls.

Build an app with :func:`dashboard.app.create_app`; serve it with
:func:`dashboard.server.serve.serve` (``stamp serve``) or under gunicorn as
``dashboard.server.wsgi:server``.
"""
