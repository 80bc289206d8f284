"""components/scripts/health_probe.php for real (the PHP CLI of this machine) against servers on
loopback that answer as apps do: what it passes, and what a failure says in a few lines (the
verdict: no answer, a wrong status with what the app said, or another build; identical attempts
collapsed)."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

PROBE = Path(__file__).parents[3] / "components" / "scripts" / "health_probe.php"
BUILD = "reg@sha256:" + "a" * 64
OTHER = "reg@sha256:" + "b" * 64
HEADER = "header:X-Laravel-Stack-Build"

#: Laravel 13's production 500 page, shortened (resources/views/errors/minimal.blade.php)
SERVER_ERROR = """<!DOCTYPE html>
<html lang="en">
    <head>
        <title>Server Error</title>
        <style>body { font-family: ui-sans-serif; }</style>
    </head>
    <body class="antialiased">
        <div class="flex items-top">
            <div class="px-4 text-lg">500</div>
            <div class="ml-4 text-lg uppercase">Server Error</div>
        </div>
    </body>
</html>
"""

#: (status, headers, body) the app answers
Answer = tuple[int, dict[str, str], str]


@pytest.fixture
def app() -> Iterator[Callable[[Answer], str]]:
    """An HTTP app on loopback; call it with what it answers, get its /up URL."""
    answer: list[Answer] = [(200, {}, "")]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, headers, body = answer[0]
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def serve(a: Answer) -> str:
        answer[0] = a
        return f"http://127.0.0.1:{server.server_address[1]}/up"

    yield serve
    server.shutdown()


def probe(url: str, field: str, build: str, tries: int = 3) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["php", str(PROBE), url, "200", field, build, str(tries), "0", "2", ""],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_the_build_header_proves_the_build_whatever_the_route_answers(app):
    url = app((200, {"X-Laravel-Stack-Build": BUILD}, "<html><body>Application up</body></html>"))
    res = probe(url, HEADER, BUILD)
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"healthy: {url} HTTP 200, build={BUILD} (attempt 1)\n"
    # the old way: the JSON field of the app's own route
    url = app((200, {}, json.dumps({"status": "ok", "build": BUILD})))
    assert (
        probe(url, "build", BUILD).stdout == f"healthy: {url} HTTP 200, build={BUILD} (attempt 1)\n"
    )


def test_a_500_is_reported_as_the_apps_answer_with_what_it_said_in_few_lines(app):
    url = app((500, {"Content-Type": "text/html"}, SERVER_ERROR))
    res = probe(url, HEADER, BUILD, tries=30)
    assert res.returncode == 3  # the step then shows the container's last log lines
    assert res.stderr.splitlines() == [
        f"attempt 1/30: {url} HTTP 500, build=null, want HTTP 200 and {BUILD}",
        "  ... the same 29 more times, until attempt 30",
        "health check failed: the app answered HTTP 500, not 200; what it said:",
        "  | 500",
        "  | Server Error",
    ]
    # JSON (the probe asks for it): one line
    url = app((500, {}, json.dumps({"message": "Server Error"}, indent=4)))
    lines = probe(url, HEADER, BUILD).stderr.splitlines()
    assert lines[2:] == ["health check failed: the app answered HTTP 500, not 200; what it said:",
                         '  | {"message":"Server Error"}']  # fmt: skip


def test_another_build_is_the_served_code_not_being_the_deployed_build(app):
    url = app((200, {"X-Laravel-Stack-Build": OTHER}, "ok"))
    res = probe(url, HEADER, BUILD)
    assert res.returncode == 1
    assert res.stderr.splitlines()[-1] == (
        f"health check failed: the served code is not the deployed build: it serves {OTHER}, "
        f"not {BUILD}"
    )
    # no build at all: the one line the app needs
    # no build at all (a static file at the health path, say): the one line the app needs, and
    # what answered
    url = app((200, {}, '{"build": "static"}\n'))
    assert probe(url, HEADER, BUILD).stderr.splitlines()[-2:] == [
        "health check failed: the served code is not the deployed build: HTTP 200 without a "
        "build (no X-Laravel-Stack-Build header): a config cache made without APP_BUILD (baked "
        "into the image?), or no 'build' => env('APP_BUILD') in config/app.php; what it said:",
        '  | {"build":"static"}',
    ]


def test_no_answer_says_so_and_a_change_of_answer_starts_a_new_line(app):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens
    url = f"http://127.0.0.1:{port}/up"
    res = probe(url, HEADER, BUILD, tries=2)
    assert res.returncode == 3
    lines = res.stderr.splitlines()
    assert lines[1] == "  ... the same once more, until attempt 2"
    assert lines[2].startswith("health check failed: the app did not answer ("), lines


def fcgi_app(stdout: bytes) -> tuple[int, threading.Thread]:
    """A FastCGI responder on loopback (one request): PHP-FPM's answer as `stdout`."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve() -> None:
        conn, _ = srv.accept()
        with conn, srv:
            buf = b""
            while b"\x01\x05\x00\x01\x00\x00" not in buf:  # the empty STDIN record: all sent
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            conn.sendall(struct.pack("!BBHHBx", 1, 6, 1, len(stdout), 0) + stdout)
            conn.sendall(struct.pack("!BBHHBx", 1, 3, 1, 8, 0) + b"\0" * 8)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return srv.getsockname()[1], t


def test_over_fastcgi_the_header_is_read_from_fpms_answer():
    port, t = fcgi_app(
        b"Status: 200 OK\r\nX-Laravel-Stack-Build: " + BUILD.encode()
        + b"\r\nContent-Type: text/html\r\n\r\n<html>Application up</html>"
    )  # fmt: skip
    res = probe(f"fcgi://127.0.0.1:{port}/up", HEADER, BUILD, tries=1)
    t.join(5)
    assert res.returncode == 0, res.stderr
    assert f"HTTP 200, build={BUILD} (attempt 1)" in res.stdout
