"""Preflight: one line naming the host and the cause, for each way an ssh engine fails."""

from __future__ import annotations

import pytest

from components.commands import Engine, engine
from components.core import preflight

HOST = "ssh://deploy@vps.example.com"
KNOWN = ["vps.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"]


@pytest.mark.parametrize(
    ("output", "line"),
    [
        ("@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed.",
         "the server's host key does not match docker.known_hosts"),
        ("deploy@vps.example.com: Permission denied (publickey).",
         "login refused for deploy: no key in the ssh agent"),
        ("ssh: connect to host vps.example.com port 22: Connection refused",
         "unreachable: connection refused"),
        ("ssh: connect to host 10.9.9.9 port 22: Connection timed out",
         "unreachable: connection timed out"),
        ("ssh: Could not resolve hostname vps.example.com: Name or service not known",
         "unreachable: the name does not resolve"),
        ("permission denied while trying to connect to the Docker daemon socket at unix:///x.sock",
         "deploy may not use Docker there: add it to the docker group"),
        ("bash: line 1: docker: command not found", "Docker is not installed there"),
        ("something else\nfinal words", "cannot reach Docker over ssh (final words)"),
    ],
)  # fmt: skip
def test_each_failure_is_one_line_with_host_and_cause(output, line):
    text = preflight.cause(engine(HOST, KNOWN, False, "shop"), output)
    assert text == f"{HOST}: {line}" or text.startswith(f"{HOST}: {line}")
    assert "\n" not in text


def test_the_probe_goes_through_the_same_pinned_ssh_as_the_release():
    argv = preflight.probe(engine(HOST, KNOWN, True, "shop"))
    assert argv[0] == "ssh" and "StrictHostKeyChecking=yes" in argv
    assert argv[-1] == "docker version --format '{{.Server.Version}}'"


def test_a_local_engine_is_not_probed(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("ran a command for a local engine")

    monkeypatch.setattr(preflight.subprocess, "run", boom)
    preflight.check(Engine("unix:///var/run/docker.sock"))


def test_a_failed_probe_raises_with_the_line(monkeypatch, tmp_path):
    fake = tmp_path / "ssh"
    fake.write_text(
        "#!/bin/sh\necho 'deploy@vps.example.com: Permission denied (publickey).' >&2\nexit 255\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    with pytest.raises(
        preflight.PreflightError, match=r"^ssh://deploy@vps.example.com: login refused"
    ):
        preflight.check(engine(HOST, KNOWN, False, "shop"))
