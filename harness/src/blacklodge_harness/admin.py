"""A small HTTP server for the probes and metrics of a process that serves no HTTP itself
(the Kafka worker): ``/healthz`` (alias ``/livez``), ``/readyz``, ``/metrics``, ``/statz``.

The routes answer from callbacks on daemon threads, so a busy handler never delays a probe.
Requests are logged at debug level only.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from collections.abc import Callable

from blacklodge_harness.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE

log = logging.getLogger("blacklodge.admin")

#: A probe's answer: (healthy, details for the JSON body).
Probe = Callable[[], tuple[bool, dict[str, Any]]]


class AdminServer:
    """Serves the probes on ``host:port`` from a daemon thread until :meth:`close`."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        liveness: Probe,
        readiness: Probe,
        metrics: Callable[[], str],
        info: Callable[[], dict[str, Any]],
    ) -> None:
        routes: dict[str, Callable[[], tuple[int, str, bytes]]] = {
            "/healthz": lambda: _probe(liveness, "ok", "stuck"),
            "/livez": lambda: _probe(liveness, "ok", "stuck"),
            "/readyz": lambda: _probe(readiness, "ready", "not_ready"),
            "/metrics": lambda: (200, METRICS_CONTENT_TYPE, metrics().encode("utf-8")),
            "/statz": lambda: (200, "application/json", json.dumps(info()).encode("utf-8")),
        }

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "blacklodge-admin"
            sys_version = ""

            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                route = routes.get(self.path.split("?", 1)[0])
                if route is None:
                    status, content_type, body = 404, "application/json", b'{"error": {"type": "not_found"}}'
                else:
                    try:
                        status, content_type, body = route()
                    except Exception:  # noqa: BLE001 - a fault in a probe is an answer, not a crash
                        log.exception("admin route %s failed", self.path)
                        status, content_type, body = 500, "application/json", b'{"error": {"type": "internal_error"}}'
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
                log.debug("%s " + format, self.address_string(), *args)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="blacklodge-admin", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
        self._server.server_close()


def _probe(probe: Probe, good: str, bad: str) -> tuple[int, str, bytes]:
    healthy, details = probe()
    body = {"status": good if healthy else bad, **details}
    return (200 if healthy else 503), "application/json", json.dumps(body).encode("utf-8")
