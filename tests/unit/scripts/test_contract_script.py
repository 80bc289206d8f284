"""components/scripts/contract.sh without Docker: its arguments, and that it reports every
failure as one line and exits 1. The FPM checks need a running PHP-FPM (skipped here with an
empty FPM_PORT); the images themselves are checked on Docker (issue 12)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

CONTRACT_SH = Path(__file__).parents[3] / "components" / "scripts" / "contract.sh"
SECRET = "base64:never-printed-0123456789"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    # As the release runs it: the script as an argument of `sh -c` ($0 = "contract").
    env = {"PATH": os.environ["PATH"], "APP_KEY": SECRET, "DB_PASSWORD": SECRET}
    return subprocess.run(
        ["sh", "-c", CONTRACT_SH.read_text(), "contract", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )


def test_the_script_is_posix_sh():
    subprocess.run(["sh", "-n", str(CONTRACT_SH)], check=True)


def test_wrong_arguments_are_a_usage_error():
    result = run("/var/www/html", "9000")
    assert result.returncode == 2
    assert "usage: contract.sh APP_ROOT FPM_PORT" in result.stderr


def test_every_failure_is_one_line_then_exit_1(tmp_path: Path):
    result = run(str(tmp_path), "", "lsbyo-no-such-user", "33", "33", "app.build")
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines == [
        f"image contract: {tmp_path}/public/index.php is missing: COPY the Laravel app to "
        f"{tmp_path} in the image (or set the stack's app_root)",
        f"image contract: {tmp_path}/artisan is missing: COPY the Laravel app to {tmp_path} "
        "in the image (or set the stack's app_root)",
        "image contract: no user lsbyo-no-such-user in the image: create it with uid 33 and "
        "gid 33 (or set the stack's web_user)",
        "image contract: 3 problem(s) above; the release stops before any traffic",
    ]


def test_an_app_whose_config_cannot_be_built_fails_without_printing_the_env(tmp_path: Path):
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "index.php").write_text("<?php\n")
    (tmp_path / "artisan").write_text("<?php exit(3);\n")  # not Laravel (and maybe no php)
    user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout
    uid, gid = str(os.getuid()), str(os.getgid())
    result = run(str(tmp_path), "", user.strip(), uid, gid, "app.build")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0].startswith(
        "image contract: `php artisan config:cache` fails as "
    )
    assert SECRET not in result.stdout + result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artisan", "public"]
