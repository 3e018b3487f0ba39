"""A loopback HTTP server that misbehaves on purpose, for the network fault tests.

Each request path is `/<mode>/<file name>`; the file's bytes come from `files`.
Modes:
  ok         200 with the whole body
  trickle    200, the body in 64 KiB pieces every `trickle_delay` seconds
  reset      headers and half the body, then a TCP reset (every time)
  reset-once like reset on the first request for the path, then ok
  500        500 every time
  500-twice  500 on the first two requests for the path, then ok
  403        403 every time (a store that refuses the credentials)
  silent     accepts and reads the request, then sends nothing for `silence` seconds
  stall      headers and half the body, then nothing for `silence` seconds
  late       nothing for `late` seconds, then like ok
  hangup     reads the request, then closes the connection without an answer
  short      announces the whole length, sends half, closes cleanly
  long       announces the whole length, sends it and 4 KiB of junk after
  lying      announces half the length and sends that half (valid HTTP, wrong file)
  redirect   302 to `redirect_to` + /ok/<file> (another server: another host:port)
Connection refused is the `refused_url` fixture's (tests/conftest.py).
With `tls` (an SSLContext, see `self_signed`) the server speaks https. Names in `always_ok`
are served whole whatever the mode (a shared cache's sidecar beside a misbehaving artifact).
"""

from __future__ import annotations

import collections
import socket
import socketserver
import ssl
import struct
import threading
import time


class FaultServer:
    def __init__(self, files: dict[str, bytes], *, trickle_delay: float = 0.05, silence: float = 30.0,
                 late: float = 0.4, tls: ssl.SSLContext | None = None, always_ok: frozenset[str] = frozenset()) -> None:
        self.files = files
        self.always_ok = always_ok
        self.trickle_delay = trickle_delay
        self.silence = silence
        self.late = late
        self.redirect_to = ""
        self.tls = tls
        self.hits: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                outer._handle(self.request)

        class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
            daemon_threads = True
            allow_reuse_address = True

            def get_request(self):
                sock, address = super().get_request()
                return (tls.wrap_socket(sock, server_side=True) if tls else sock), address

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "FaultServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, sock: socket.socket) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = sock.recv(4096)
            if not chunk:
                return
            request += chunk
        path = request.split(b" ", 2)[1].decode()
        _, mode, name = path.split("/", 2)
        self.hits[path] += 1
        body = self.files.get(name)
        if body is None:
            return _send(sock, 404, b"not found")
        half = len(body) // 2
        if name in self.always_ok:
            mode = "ok"
        if (mode == "ok" or (mode == "reset-once" and self.hits[path] > 1)
                or (mode == "500-twice" and self.hits[path] > 2)):
            _send(sock, 200, body)
        elif mode == "trickle":
            sock.sendall(_head(200, len(body)))
            for i in range(0, len(body), 1 << 16):
                if self._stop.wait(self.trickle_delay):
                    return
                sock.sendall(body[i:i + (1 << 16)])
        elif mode in ("reset", "reset-once"):
            sock.sendall(_head(200, len(body)) + body[:half])
            time.sleep(0.05)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        elif mode in ("500", "500-twice"):
            _send(sock, 500, b"internal error")
        elif mode == "403":
            _send(sock, 403, b"forbidden")
        elif mode == "silent":
            self._stop.wait(self.silence)
        elif mode == "stall":
            sock.sendall(_head(200, len(body)) + body[:half])
            self._stop.wait(self.silence)
        elif mode == "late":
            if not self._stop.wait(self.late):
                _send(sock, 200, body)
        elif mode == "hangup":
            sock.close()
        elif mode == "short":
            sock.sendall(_head(200, len(body)) + body[:half])
            sock.shutdown(socket.SHUT_WR)
        elif mode == "long":
            sock.sendall(_head(200, len(body)) + body + b"J" * 4096)
        elif mode == "lying":
            sock.sendall(_head(200, half) + body[:half])
        elif mode == "redirect":
            sock.sendall(f"HTTP/1.1 302 Found\r\nLocation: {self.redirect_to}/ok/{name}\r\n"
                         "Content-Length: 0\r\nConnection: close\r\n\r\n".encode())
        else:
            _send(sock, 400, b"unknown mode")


def _head(status: int, length: int) -> bytes:
    reason = {200: "OK", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error", 400: "Bad Request"}[status]
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Length: {length}\r\n"
            "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n").encode()


def _send(sock: socket.socket, status: int, body: bytes) -> None:
    sock.sendall(_head(status, len(body)) + body)


def self_signed(directory) -> tuple[ssl.SSLContext, str] | None:
    """A server context with a new self-signed certificate for 127.0.0.1, and the
    certificate's path (for REQUESTS_CA_BUNDLE); None without the openssl command."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        return None
    cert, key = f"{directory}/cert.pem", f"{directory}/key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context, cert
