"""Drive a dashboard's callbacks over HTTP the way the browser does (smoke tests, load tests, scripts).

The Dash renderer's protocol, in short: ``GET _dash-layout`` gives the page (with
this page load's session id in a store); ``POST _dash-update-component`` runs a
callback.  A background callback first answers with signed ``cacheKey``/``job``
handles; the browser then re-posts the same request with those handles as query
parameters until the answer carries a ``response`` (or 204: nothing to update).

Example::

    client = DashClient(http_transport("http://127.0.0.1:8050/"))
    session = client.store("session-id")
    outputs = client.call("job-result.data", {"dataset.data": {"kind": "demo"}}, {"session-id.data": session})
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from dashboard.ids import SESSION, UPLOAD_DONE, UPLOAD_PROGRESS_BOX

#: ``transport(method, path, body, params, headers=None) -> (status, json or None)``; ``path`` is relative
#: to the app's prefix; ``body`` is sent as JSON, or as it is when it is ``bytes`` (upload chunks).
Transport = Callable[..., tuple[int, Any]]


class CallbackFailed(RuntimeError):
    """The server answered a callback with an error status."""


def http_transport(base_url: str, *, timeout: float = 60.0, headers: Mapping[str, str] | None = None) -> Transport:
    """A transport over real HTTP (``requests``, one connection pool per transport) to ``base_url`` (ends with ``/``)."""
    import requests

    http = requests.Session()
    http.headers.update(headers or {})
    base = base_url if base_url.endswith("/") else base_url + "/"

    def send(method: str, path: str, body: Any = None, params: Mapping[str, str] | None = None,
             extra: Mapping[str, str] | None = None):
        raw = isinstance(body, bytes)
        response = http.request(method, base + path, json=None if raw else body, data=body if raw else None,
                                params=params, headers=dict(extra or {}), timeout=timeout)
        data = response.json() if response.content and "json" in response.headers.get("Content-Type", "") else None
        return response.status_code, data

    return send


def flask_transport(test_client, prefix: str = "/", headers: Mapping[str, str] | None = None) -> Transport:
    """A transport through a Flask test client (no sockets)."""

    def send(method: str, path: str, body: Any = None, params: Mapping[str, str] | None = None,
             extra: Mapping[str, str] | None = None):
        raw = isinstance(body, bytes)
        response = test_client.open(prefix + path, method=method, json=None if raw else body,
                                    data=body if raw else None, query_string=dict(params or {}),
                                    headers={**(headers or {}), **(extra or {})},
                                    content_type="application/octet-stream" if raw else None)
        data = response.get_json(silent=True)
        return response.status_code, data

    return send


def _outputs(output: str) -> list[dict[str, str]]:
    """``"..a.b...c.d.."`` (or ``"a.b"``) → ``[{"id": "a", "property": "b"}, …]`` (``@hash`` of duplicates dropped)."""
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    specs = []
    for part in parts:
        component, _, prop = part.rpartition(".")
        specs.append({"id": component, "property": prop.split("@")[0]})
    return specs


def _find(node: Any, component_id: str) -> Any:
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and props.get("id") == component_id:
            return props
        for value in node.values():
            found = _find(value, component_id)
            if found is not None:
                return found
    elif isinstance(node, list):
        for value in node:
            found = _find(value, component_id)
            if found is not None:
                return found
    return None


class DashClient:
    """One page load of a dashboard, talking through ``transport``.

    Parameters
    ----------
    transport : Transport
        :func:`http_transport` or :func:`flask_transport`.
    """

    def __init__(self, transport: Transport):
        self.transport = transport
        status, self.layout = transport("GET", "_dash-layout", None, None)
        if status != 200:
            raise CallbackFailed(f"_dash-layout answered {status}")
        status, self.dependencies = transport("GET", "_dash-dependencies", None, None)
        if status != 200:
            raise CallbackFailed(f"_dash-dependencies answered {status}")

    def store(self, component_id: str) -> Any:
        """The initial ``data`` of a ``dcc.Store`` in this page load's layout."""
        props = _find(self.layout, component_id)
        if props is None:
            raise KeyError(component_id)
        return props.get("data")

    def callback(self, output: str) -> dict:
        """The server-side callback whose outputs include ``output`` (``"id.property"``): the one
        that owns it (not an ``allow_duplicate`` writer of it) when there is one."""
        servers = [dep for dep in self.dependencies if not dep.get("clientside_function")]  # others run in the browser
        for owner in (True, False):
            for dep in servers:
                parts = dep["output"][2:-2].split("...") if dep["output"].startswith("..") else [dep["output"]]
                names = [part if owner else part.split("@")[0] for part in parts]
                if output in names:
                    return dep
        raise KeyError(f"no callback outputs {output}")

    def upload(self, paths: Sequence[Path], session: str) -> dict[str, dict[str, Any]]:
        """Upload files as the page does: chunks to ``upload/`` (:mod:`dashboard.server.upload_route`),
        then the callback that turns the finished upload into the dataset.

        Returns
        -------
        dict
            The callback's outputs (``["dataset"]["data"]`` is the descriptor, or
            ``["upload-message"]`` says why the upload was refused).

        Raises
        ------
        CallbackFailed
            When the server refuses a chunk (the message is the server's).
        """
        from dashboard.server.upload_route import SESSION_HEADER

        headers = {SESSION_HEADER: session}
        files = [{"name": Path(p).name, "size": Path(p).stat().st_size} for p in paths]
        status, started = self.transport("POST", "upload/", {"files": files}, None, headers)
        if status != 201:
            raise CallbackFailed(f"upload/: the server answered {status}: {json.dumps(started)[:300]}")
        for index, path in enumerate(paths):
            with open(path, "rb") as handle:
                offset = 0
                while chunk := handle.read(started["chunk_bytes"]):
                    status, answer = self.transport("PUT", f"upload/{started['upload']}/{index}", chunk,
                                                    {"offset": str(offset)}, headers)
                    if status != 200:
                        raise CallbackFailed(f"upload chunk: the server answered {status}: {json.dumps(answer)[:300]}")
                    offset = answer["received"]
        return self.call(f"{UPLOAD_PROGRESS_BOX}.hidden", {f"{UPLOAD_DONE}.data": {"upload": started["upload"]},
                                                           f"{SESSION}.data": session})

    def call(
        self,
        output: str,
        values: Mapping[str, Any],
        *,
        changed: list[str] | None = None,
        poll_s: float = 0.2,
        timeout_s: float = 120.0,
    ) -> dict[str, dict[str, Any]]:
        """Run the callback of ``output`` with ``values`` (``"id.property"`` → value; others None).

        Returns
        -------
        dict
            Component id → {property: new value}; empty when the callback sent no update.

        Raises
        ------
        CallbackFailed
            On an error status, or when a background job has not finished in ``timeout_s``.
        """
        body, status, data = self.submit(output, values, changed=changed)
        return self.follow(output, body, status, data, poll_s=poll_s, timeout_s=timeout_s)

    def submit(self, output: str, values: Mapping[str, Any], *, changed: list[str] | None = None):
        """Send the first request of the callback of ``output``; returns (request body, status, answer).

        For a background callback the answer holds the signed ``cacheKey``/``job``
        handles; :meth:`follow` polls them (tests kill the job in between).
        """
        dep = self.callback(output)

        def items(specs):
            return [{"id": s["id"], "property": s["property"], "value": values.get(f"{s['id']}.{s['property']}")}
                    for s in specs]

        inputs = items(dep["inputs"])
        body = {
            "output": dep["output"],
            "outputs": _outputs(dep["output"]) if dep["output"].startswith("..") else _outputs(dep["output"])[0],
            "inputs": inputs,
            "state": items(dep.get("state", [])),
            "changedPropIds": changed or [f"{inputs[0]['id']}.{inputs[0]['property']}"],
        }
        status, data = self.transport("POST", "_dash-update-component", body, None)
        return body, status, data

    def follow(self, output: str, body: dict, status: int, data: Any, *, poll_s: float = 0.2,
               timeout_s: float = 120.0) -> dict[str, dict[str, Any]]:
        """The outputs of a submitted callback, polling a background job until it answers (see :meth:`call`)."""
        deadline = time.monotonic() + timeout_s
        handles: dict[str, str] | None = None
        while True:
            if status == 204:
                return {}
            if status != 200 or data is None:
                raise CallbackFailed(f"{output}: the server answered {status}: {json.dumps(data)[:300]}")
            if "response" in data:
                return data["response"]
            if "cacheKey" in data:
                handles = {"cacheKey": data["cacheKey"], "job": data["job"]}
            if handles is None:
                raise CallbackFailed(f"{output}: unexpected answer {json.dumps(data)[:300]}")
            if time.monotonic() > deadline:
                raise CallbackFailed(f"{output}: the background job did not finish in {timeout_s:.0f} s")
            time.sleep(poll_s)
            status, data = self.transport("POST", "_dash-update-component", body, handles)
