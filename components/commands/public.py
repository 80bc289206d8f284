"""The public-init jobs: one-shots of the new image over the public volume."""

from __future__ import annotations

from collections.abc import Sequence

from ..core.files import public_dir
from .base import (
    Argv,
    Engine,
    FromScript,
    docker,
    project_script,
)

PUBLIC_MOUNT = "/mnt/public"


def public_job(host: Engine, image: str, volume: str, script: str, *args: str) -> Argv:
    """A one-shot of the new image over the public volume, its script (public_init.sh,
    public_prune.sh) read on stdin."""
    argv = docker(
        host,
        "run",
        "--rm",
        "--interactive",
        # The provider pulled this digest (with the registry login); the engine's own CLI may
        # have none, and must never pull anything else.
        "--pull",
        "never",
        "--user",
        "0",
        "--network",
        "none",
        "--entrypoint",
        "sh",
        "--volume",
        f"{volume}:{PUBLIC_MOUNT}",
        image,
        "-s",
        "--",
        *args,
    )
    return FromScript(argv, project_script(script))


def public_init(
    host: Engine,
    image: str,
    volume: str,
    public_path: str,
    storage_link: bool,
    uid: int,
    gid: int,
) -> Argv:
    """One-shot job from the new image, into the build's own directory of the public volume; its
    exit code fails the deploy (a container's would not)."""
    link = "1" if storage_link else "0"
    args = [public_path, PUBLIC_MOUNT, public_dir(image), link, f"{uid}:{gid}"]
    return public_job(host, image, volume, "public_init.sh", *args)


def public_prune(host: Engine, image: str, volume: str, keep: Sequence[str]) -> Argv:
    """Remove every build's public/ directory but those of the builds in `keep`."""
    dirs = [public_dir(b) for b in keep if b]
    return public_job(host, image, volume, "public_prune.sh", PUBLIC_MOUNT, *dirs)
