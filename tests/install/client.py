"""HTTP(S) requests into a network namespace of ours, from the test process.

Each connection is opened inside the namespace (genweb.lab.netns.connect_in_netns) and then
used like any socket, so the test talks to nginx on the namespace's 127.0.0.1 without any
address in the host's namespace.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from genweb.lab.netns import connect_in_netns


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class _Connection(http.client.HTTPConnection):
    def __init__(self, netns: str, host: str, port: int, context: ssl.SSLContext | None) -> None:
        super().__init__(host, port, timeout=20)
        self._netns = netns
        self._context = context

    def connect(self) -> None:
        sock = connect_in_netns(self._netns, self.host, self.port, 20)
        if self._context is not None:
            sock = self._context.wrap_socket(sock, server_hostname=self.host)
        self.sock = sock


def request(netns: str, url: str, *, auth: tuple[str, str] | None = None, method: str = "GET",
            body: Any = None, cafile: Path | None = None) -> Response:
    """One request; https is verified against ``cafile`` (the server's self-signed cert)."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    context = None
    if https:
        context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    host = parts.hostname or "127.0.0.1"
    connection = _Connection(netns, host, parts.port or (443 if https else 80), context)
    headers = {"Host": parts.netloc}
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, body=data, headers=headers)
        answer = connection.getresponse()
        return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()},
                        answer.read())
    finally:
        connection.close()
