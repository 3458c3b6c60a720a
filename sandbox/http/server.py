"""The HTTP side: a threading stdlib server that feeds requests to SandboxApp and writes its replies."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sandbox.http.app import SandboxApp
from sandbox.http.wire import Request

# What socketserver hands a server per request; a TCP server always gets the connected socket.
_Connection = socket.socket | tuple[bytes, socket.socket]


class SandboxServer(ThreadingHTTPServer):
    """Tracks open connections so that stopping also ends idle keep-alive clients."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.app: SandboxApp | None = None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    @property
    def bound_address(self) -> tuple[str, int]:
        """The host and port the server listens on (a free one when port 0 was asked for)."""
        host, port = self.socket.getsockname()[:2]
        return str(host), int(port)

    def process_request(self, request: _Connection, client_address: Any) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: _Connection) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake every handler thread blocked on an idle connection."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    server: SandboxServer  # the server this handler is made for (socketserver declares any BaseServer)
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections as they do with Atlassian
    server_version = "postmortem-sync-sandbox"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are closed after a minute

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as separate writes; without NODELAY, Nagle + delayed ACK add ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        app = self.server.app
        if app is None:
            raise RuntimeError("SandboxServer.app must be set before the server serves")
        reply = app.handle(Request(self.command, self.path, headers, body))
        if reply is None:
            self._reset_connection()
            return
        self._date = reply.headers.pop("Date", None)
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD" and reply.body:
            self.wfile.write(reply.body)

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The `Date` header: the sandbox's clock as the app stamped it, not the machine's."""
        return getattr(self, "_date", None) or super().date_time_string(timestamp)

    def _reset_connection(self) -> None:
        """Close with RST instead of a response, as a dropped connection looks to the client."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # request logging would drown the test output; statistics cover what matters
