"""The documented lines (docs/bring-your-own-app.md) are the ones the example images are built
and tested with."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).parents[3]
BYO = (ROOT / "docs" / "bring-your-own-app.md").read_text()
#: the user-shaped example images (Debian's stock FPM plus the documented lines)
IMAGES = [
    "examples/laravel-app/Dockerfile.debian",
    "examples/laravel10-app/Dockerfile",
    "examples/laravel13-app/Dockerfile",
]


def pool_lines(text: str) -> list[list[str]]:
    """The FPM lines of every `printf … > …/zz-laravel-stack.conf` in a Dockerfile's text."""
    out = []
    joined = re.sub(r"\\\n\s*", " ", text)
    for m in re.finditer(r"printf '%s\\n' (.*?)>\s*(\S*zz-laravel-stack\.conf)", joined):
        out.append(shlex.split(m.group(1).replace("\\", "")))
    return out


def test_the_docs_document_one_set_of_fpm_lines():
    documented = pool_lines(BYO)
    assert len(documented) == 2, documented  # Debian's packages, the official image
    assert documented[0] == documented[1]
    assert documented[0] == [
        "[global]", "process_control_timeout = 30s",
        "[www]", "listen = 9000", "clear_env = no",
        "catch_workers_output = yes", "decorate_workers_output = no",
    ]  # fmt: skip


def test_every_example_image_is_built_with_the_documented_lines():
    [want, _] = pool_lines(BYO)
    for image in IMAGES:
        assert pool_lines((ROOT / image).read_text()) == [want], image


def test_every_example_app_adds_the_one_line_the_docs_name():
    line = "'build' => env('APP_BUILD'),"
    assert line in BYO
    for app in ("laravel-app", "laravel10-app", "laravel13-app"):
        assert line in (ROOT / "examples" / app / "config/app.php").read_text(), app
    # the slim skeleton keeps its built-in health route
    assert "health: '/up'" in (ROOT / "examples/laravel13-app/bootstrap/app.php").read_text()
