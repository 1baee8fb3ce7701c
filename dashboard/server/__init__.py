"""The server shell around the Dash features: configuration, access control, page sessions,
upload and download routes, disk quotas, job limits and budgets, the background-job manager,
and the entry points (``stamp serve``, WSGI, Celery worker).

Nothing here builds a component or a figure; the features (:mod:`dashboard.features`)
receive what they need from :class:`~dashboard.server.services.Services`.
"""
