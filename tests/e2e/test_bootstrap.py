"""The bootstrap and the user's own Pulumi (README "The proving ground"): an installed Pulumi is
used as it is, with its plugins, and nothing is built; where none is installed the stand-ins go to a
Pulumi home of the proving ground's own. Either way nothing of the user's home is written.

Each case runs `proving-ground/bootstrap pulumi` against a cache directory of its own, so the
suite's own toolchain (and its env.sh) is never rewritten by a test.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from .support.pulumi import REPO

CACHE = Path(os.environ.get("LARAVEL_STACK_CACHE", "/var/cache/laravel-stack"))


def tree(root: Path) -> dict[str, tuple[str, int, str]]:
    """Every entry under `root`: kind, mode, and content hash or link target."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            out[str(path.relative_to(root))] = ("link", st.st_mode, os.readlink(path))
        elif stat.S_ISDIR(st.st_mode):
            out[str(path.relative_to(root))] = ("dir", st.st_mode, "")
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out[str(path.relative_to(root))] = ("file", st.st_mode, digest)
    return out


def user_home(tmp_path: Path, with_cli: bool) -> Path:
    """A user's home with Pulumi's plugins of the versions the program pins (and a `pulumi`)."""
    home = tmp_path / "home"
    for name, version in (("docker", "5.1.0"), ("command", "1.2.1")):
        plugin = home / f".pulumi/plugins/resource-{name}-v{version}/pulumi-resource-{name}"
        plugin.parent.mkdir(parents=True)
        plugin.write_text(f"#!/bin/sh\n# the user's own pulumi-resource-{name} {version}\n")
        plugin.chmod(0o755)
    if with_cli:
        # A real CLI (this run's own build, copied): the user's installation.
        (home / ".pulumi/bin").mkdir()
        real = shutil.which("pulumi")
        assert real, "no pulumi on PATH: run proving-ground/bootstrap"
        shutil.copy2(real, home / ".pulumi/bin/pulumi")
    return home


def link(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another filesystem
        shutil.copy2(src, dst)


def system_path() -> str:
    """PATH without any Pulumi (the suite's own toolchain bin dirs dropped)."""
    dirs = os.environ["PATH"].split(":")
    return ":".join(d for d in dirs if not (Path(d) / "pulumi").exists())


def bootstrap(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(REPO / "proving-ground/bootstrap"), "pulumi"], env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


def env_of(env_sh: Path, env: dict[str, str]) -> list[str]:
    """What a script sees after sourcing env.sh: pulumi, PULUMI_HOME, the mode."""
    script = f'. {env_sh}; command -v pulumi || echo -; echo "${{PULUMI_HOME:--}}"; ' \
             'echo "$LARAVEL_STACK_PULUMI"'  # fmt: skip
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                          check=True).stdout.split()  # fmt: skip


@pytest.mark.parametrize("own_home", [False, True], ids=["home", "PULUMI_HOME"])
def test_an_installed_pulumi_is_used_as_it_is_and_nothing_is_built(tmp_path, own_home):
    home = user_home(tmp_path, with_cli=True)
    before = tree(home)
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "LARAVEL_STACK_"))}
    env.update(HOME=str(home), LARAVEL_STACK_CACHE=str(cache),
               PATH=f"{home / '.pulumi/bin'}:{system_path()}")  # fmt: skip
    if own_home:
        env["PULUMI_HOME"] = str(home / ".pulumi")
    res = bootstrap(env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "installed on this machine" in res.stdout, res.stdout
    assert tree(home) == before, "the bootstrap wrote into the user's home"
    # Built nothing: no CLI, no stand-in, no Go cache, no Pulumi home of its own.
    assert sorted(p.name for p in (cache / "toolchain").iterdir()) == [".lock", "env.sh"]
    expected_home = str(home / ".pulumi") if own_home else "-"
    pulumi = str(home / ".pulumi/bin/pulumi")
    assert env_of(cache / "toolchain/env.sh", env) == [pulumi, expected_home, "installed"]


def test_without_pulumi_the_stand_ins_live_in_a_home_of_their_own(tmp_path):
    home = user_home(tmp_path, with_cli=False)
    before = tree(home)
    # This run's builds, reused (a cold build takes minutes): the case checks where they go.
    cache = tmp_path / "cache"
    (cache / "toolchain").mkdir(parents=True)
    (cache / "toolchain/go").symlink_to(CACHE / "toolchain/go")
    shutil.copytree(CACHE / "toolchain/build", cache / "toolchain/build", copy_function=link)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "LARAVEL_STACK_"))}
    env.update(HOME=str(home), PULUMI_HOME=str(home / ".pulumi"), LARAVEL_STACK_CACHE=str(cache),
               PATH=system_path())  # fmt: skip
    res = bootstrap(env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "the stand-ins" in res.stdout, res.stdout
    log = (cache / "logs/bootstrap-pulumi.log").read_text()
    assert "building" not in log, log
    assert tree(home) == before, "the bootstrap wrote into the user's Pulumi home"
    own = cache / "toolchain/pulumi-home"
    for name, version in (("docker", "5.1.0"), ("command", "1.2.1")):
        assert (own / f"plugins/resource-{name}-v{version}/pulumi-resource-{name}").is_file()
    bin_dir = cache / "toolchain/pulumi-v3.259.0/bin"
    assert env_of(cache / "toolchain/env.sh", env) == [
        str(bin_dir / "pulumi"),
        str(own),
        "stand-ins",
    ]
