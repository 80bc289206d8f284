"""The Swarm one-shots: the cluster-wide steps' command builders, run on the manager.

Each step is a one-shot container of the new digest on the manager (`docker run --rm` over the
pinned ssh connection: its exit code gates the release), on the stack's attachable overlay so
it reaches MySQL, Redis and every app task by name. The provider pulled the digest there with
the registry login; the manager's own CLI has none, so nothing is ever pulled (`--pull never`).
"""

from __future__ import annotations

import base64
import gzip
import io
import shlex
import tarfile
from collections.abc import Mapping, Sequence

from ..config import WebConfig
from . import app
from .base import (
    RELEASE_SCRIPTS_DIR,
    SCRIPTS,
    Argv,
    Engine,
    FromScript,
    docker,
    project_script,
    ssh,
)
from .public import PUBLIC_MOUNT, public_job

#: Laravel's cache files of a one-shot, where no baked cache can be (a config cache in the image
#: would point migrate at another database: incident A)
ONESHOT_CACHES = {
    "APP_CONFIG_CACHE": "/tmp/laravel-stack-config.php",
    "APP_ROUTES_CACHE": "/tmp/laravel-stack-routes.php",
    "APP_EVENTS_CACHE": "/tmp/laravel-stack-events.php",
}
#: reads the secret part of the env (KEY='value' lines) from stdin, never from a command line
WITH_SECRET_ENV = 'set -a; . /dev/stdin; set +a; exec "$@"'
#: in every task: the scripts (docker configs) and the secret env (a docker secret)
TASK_DIR = RELEASE_SCRIPTS_DIR
SECRET_ENV_FILE = "/run/secrets/laravel-stack.env"


def secret_env(values: Mapping[str, str]) -> str:
    """KEY='value' lines a POSIX shell sources (`set -a; . file`): the secret env's content."""
    return "".join(f"{key}={shlex.quote(value)}\n" for key, value in sorted(values.items()))


def oneshot(
    host: Engine,
    image: str,
    network: str,
    env: Mapping[str, str],
    user: str,
    argv: Sequence[str],
    *,
    step: str,
    secrets: bool = True,
    interactive: bool = True,
) -> list[str]:
    """`docker run --rm` of `image` on the manager, on the overlay, with `env` (plain values
    only) and, with `secrets`, the secret env read on stdin; labelled with its `step` (the
    engine's events then say how often each ran)."""
    args = ["run", "--rm", "--pull", "never", "--network", network, "--user", user, "--label",
            "laravel-stack.role=oneshot", "--label", f"laravel-stack.step={step}"]  # fmt: skip
    if interactive:
        args.append("--interactive")
    for key, value in sorted({**env, **ONESHOT_CACHES}.items()):
        args += ["--env", f"{key}={value}"]
    if secrets:
        args += ["--entrypoint", "sh", image, "-c", WITH_SECRET_ENV, "laravel-stack", *argv]
    else:
        args += [image, *argv]
    return docker(host, *args)


def artisan(host: Engine, image: str, network: str, env: Mapping[str, str], user: str,
            step: str, *args: str) -> Argv:  # fmt: skip
    return oneshot(host, image, network, env, user,
                   ["php", "artisan", *args, "--no-interaction"], step=step)  # fmt: skip


def migrate(host: Engine, image: str, network: str, env: Mapping[str, str], user: str) -> Argv:
    """Once per release, before the rollout: the old tasks then run on the new schema."""
    return artisan(host, image, network, env, user, "migrate", "migrate", "--force")


def cache_clear(host: Engine, image: str, network: str, env: Mapping[str, str], user: str) -> Argv:
    """The application cache (Redis or the database: every task's), once per release; each
    task clears its own config, route, view and event caches as it starts (task_start.sh)."""
    return artisan(host, image, network, env, user, "cache-clear", "cache:clear")


def queue_restart(host: Engine, image: str, network: str, env: Mapping[str, str],
                  user: str) -> Argv:  # fmt: skip
    return artisan(host, image, network, env, user, "workers-restart", "queue:restart")


def contract(host: Engine, image: str, network: str, app_root: str, user: str, uid: int,
             gid: int) -> Argv:  # fmt: skip
    """The image contract (contract.sh, read on stdin), as root in a one-shot of the new image.
    Without its FPM checks: no FPM runs in a one-shot; every task's health check proves its
    server (FPM or Octane)."""
    argv = ["sh", "-s", "--", app_root, "", user, str(uid), str(gid), app.BUILD_CONFIG_KEY]
    run = oneshot(host, image, network, {}, "0", argv, step="contract", secrets=False)
    return FromScript(run, project_script("contract.sh"))


def fleet_check(
    host: Engine, image: str, network: str, service: str, replicas: int, url: str,
    **probe: object,
) -> Argv:  # fmt: skip
    """Every running task of `service`, reached one by one through `tasks.<service>` on the
    overlay (fleet_check.sh), must serve the deployed build (health_probe.php, read on stdin);
    exactly `replicas` of them. `url` holds `{task}`, each task's address: fcgi://{task}:9000/up
    (FPM), http://{task}:8000/up (Octane)."""
    check = (SCRIPTS / "fleet_check.sh").read_text()
    probe_args = app.probe_args(url, **probe)  # type: ignore[arg-type]
    argv = ["sh", "-c", check, "fleet_check", f"tasks.{service}", str(replicas), *probe_args]
    run = oneshot(host, image, network, {}, "0", argv, step="fleet-check", secrets=False)
    return FromScript(run, project_script("health_probe.php"))


def rollout_wait(host: Engine, service: str, build: str, timeout: int, interval: int) -> Argv:
    """rollout_wait.sh (read on stdin) where the plain docker CLI reaches the manager: on it
    over ssh, else locally with DOCKER_HOST. Waits for Swarm to say the rollout of `build` is
    done; fails with Swarm's message when it rolled the service back."""
    argv = ["sh", "-s", "--", service, build, str(timeout), str(interval)]
    run = ssh(host, argv) if host.is_ssh else ["env", f"DOCKER_HOST={host.host}", *argv]
    return FromScript(run, project_script("rollout_wait.sh"))


def public(host: Engine, image: str, volume: str, *args: str) -> Argv:
    """swarm_public.sh over the shared public volume (next DIR, switch DIR, prune KEEP)."""
    return public_job(host, image, volume, "swarm_public.sh", PUBLIC_MOUNT, *args)


#: where a canary unpacks its files (stdin: bundle())
CANARY_DIR = "/tmp/laravel-stack"
UNPACK_SH = f'mkdir -p {CANARY_DIR} && base64 -d | tar -xzf - -C {CANARY_DIR} && exec sh "$@"'


def bundle(files: Mapping[str, str]) -> str:
    """Files as base64 of a tar.gz (name -> content), the same bytes for the same files: the
    stdin of a one-shot that needs several (no docker config reaches a plain container)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, content in sorted(files.items()):
            data = content.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o400
            tar.addfile(info, io.BytesIO(data))
    # mtime 0 in the gzip header too: the same files give the same text (no spurious diff)
    return base64.b64encode(gzip.compress(raw.getvalue(), mtime=0)).decode()


def canary(
    host: Engine,
    image: str,
    network: str,
    env: Mapping[str, str],
    uid: int,
    gid: int,
    command: Sequence[str],
    *,
    url: str,
    **probe: object,
) -> Argv:
    """The new build once, as a task runs it (canary.sh: the task chain, then `command`), probed
    on its own server (`url`: fcgi://127.0.0.1:… to FPM, http://127.0.0.1:… to Octane); its
    files and the secret env on stdin (bundle())."""
    args = app.probe_args(url, **probe)[:8]  # type: ignore[arg-type]
    argv = [f"{CANARY_DIR}/canary.sh", CANARY_DIR, *args, str(uid), str(gid), "--", *command]
    run = ["sh", "-c", UNPACK_SH, "canary", *argv]
    return oneshot(host, image, network, env, f"{uid}:{gid}", run, step="canary", secrets=False)


def canary_files(secrets: Mapping[str, str]) -> dict[str, str]:
    """What canary.sh needs beside it: the task's scripts and the secret env."""
    names = ("canary.sh", "task_start.sh", "artisan_batch.php", "health_probe.php")
    files = {n: (SCRIPTS / n).read_text() for n in names}
    files["secret.env"] = secret_env(secrets)
    return files


def health_shell(
    url: str, *, expected_status: int, build_field: str, timeout: float, script: str
) -> str:
    """The app task's health check (CMD-SHELL): app.app_health_test's probe, but requiring
    the build in the task's own env (`$APP_BUILD`, the deployed digest), expanded by the shell."""
    argv = app.app_health_test(
        url, expected_status=expected_status, build_field=build_field, timeout=timeout,
        script=script,
    )[1:]  # fmt: skip
    argv[5] = "@BUILD@"  # php, health_probe.php, url, status, field, build, ...
    return shlex.join(argv).replace("@BUILD@", '"$APP_BUILD"')


def web_command(web: WebConfig) -> list[str]:
    """What every app task (and the canary) runs after its chain: `web.command`, else for Octane
    the one-engine stack's server command (config validation requires `web.command` for FPM).
    A task's Octane is a new process, whose OPcache starts empty: nothing to reload (the
    one-engine stack's `opcache-reset` runs `octane:reload` in a container that lives on)."""
    if web.command is not None:
        return list(web.command)
    if web.runtime != "octane":
        raise ValueError("web.command is required for web.runtime fpm")
    return app.octane_command(web.octane_port)


def task_command(uid: int, gid: int, command: Sequence[str], web_user: bool = False) -> list[str]:
    """A task's command: its release chain (task_start.sh), then `command` (`web_user`: as the
    web user)."""
    flag = ["--web-user"] if web_user else []
    return ["sh", f"{TASK_DIR}/task_start.sh", str(uid), str(gid), *flag, "--", *command]
