"""A real nginx (Debian's nginx-core, with its WebDAV module) on loopback, started by the test.

`auth` makes it a store that wants credentials: "basic" (HTTP basic, `user` and
`password`, from an htpasswd file) or "bearer" (`Authorization: Bearer <token>`), for
every request, or with `open_reads` for PUT only (a store anyone may read).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest


def start(root: Path, auth: str | None = None, *, user: str = "builder", password: str = "", token: str = "",
          open_reads: bool = False) -> tuple[str, subprocess.Popen]:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if nginx is None:
        pytest.skip("nginx is not installed (scripts/test installs nginx-core)")
    if auth not in (None, "basic", "bearer"):
        raise ValueError(f"auth must be None, 'basic' or 'bearer', not {auth!r}")
    store = root / "store"
    store.mkdir(parents=True)
    store.chmod(0o777)
    temp = {name: root / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir()
    as_root = "user root;\n" if os.geteuid() == 0 else ""
    checks, maps = _auth_conf(root, auth, user, password, token, open_reads)
    # The listening socket is made here, on a port the kernel picks, and handed to nginx
    # (NGINX=fd;, as in its binary upgrade): a port found free and then named in the
    # config could be taken by another xdist worker's server before nginx binds it.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    conf = root / "nginx.conf"
    conf.write_text(f"""{as_root}daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{}}
http {{
    access_log {root}/access.log;
    client_body_temp_path {temp['body']};
    proxy_temp_path {temp['proxy']};
    fastcgi_temp_path {temp['fastcgi']};
    uwsgi_temp_path {temp['uwsgi']};
    scgi_temp_path {temp['scgi']};
{maps}
    server {{
        listen 127.0.0.1:{port};
        root {store};
        client_max_body_size 0;
        location / {{
            dav_methods PUT DELETE;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
{checks}
        }}
    }}
}}
""")
    with sock:
        proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(root)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, pass_fds=[sock.fileno()],
                                env={**os.environ, "NGINX": f"{sock.fileno()};"})
    # The socket listens already (a request waits in its backlog until nginx accepts): nginx
    # is up once it has read its config and written its pid file, or it has failed.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if (root / "nginx.pid").exists():
            return f"http://127.0.0.1:{port}/pybuild12", proc
        if proc.poll() is not None:
            pytest.fail(f"nginx did not start: {proc.stderr.read().decode()[-500:]}")
        time.sleep(0.05)
    proc.kill()
    proc.wait(timeout=10)
    pytest.fail("nginx did not start within 10 s")


def _auth_conf(root: Path, auth: str | None, user: str, password: str, token: str,
               open_reads: bool) -> tuple[str, str]:
    """The lines that make the location want credentials, and the http block's maps for them."""
    if auth is None:
        return "", ""
    if auth == "basic":
        (root / "htpasswd").write_text(f"{user}:{_hashed(password)}\n")
        lines = f'auth_basic "pybuild12 store"; auth_basic_user_file {root}/htpasswd;'
        return (f"            limit_except GET {{ {lines} }}" if open_reads else f"            {lines}"), ""
    if not re.fullmatch(r"[A-Za-z0-9._~+/=-]+", token):
        raise ValueError("a bearer token for the test store is made of token68 characters (RFC 6750)")
    # `if` cannot test two things, and is not allowed in limit_except: a map of method and header
    allowed = "".join(f'        "{method} Bearer {token}" 0;\n' for method in ("GET", "HEAD", "PUT"))
    reads = '        "~^(GET|HEAD) " 0;\n' if open_reads else ""
    maps = ('    map "$request_method $http_authorization" $pybuild12_denied {\n        default 1;\n'
            f"{allowed}{reads}    }}")
    return "            if ($pybuild12_denied) { return 401; }", maps


def _hashed(password: str) -> str:
    """`password` for an htpasswd file: apr1 through openssl when it is there (Python's crypt
    module is gone in 3.13), else salted SHA-1 in the {SSHA} form nginx reads too."""
    openssl = shutil.which("openssl")
    if openssl is not None:
        out = subprocess.run([openssl, "passwd", "-apr1", "-stdin"], input=password, capture_output=True, text=True,
                             timeout=60)
        if out.returncode == 0 and out.stdout.startswith("$apr1$"):
            return out.stdout.strip()
    salt = os.urandom(8)
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()
