"""Stack settings the e2e suites (tests/e2e) and the benchmarks (bench/) share, defined once:
`pulumi config set --path KEY VALUE` pairs for a stack on the SSH test server
(proving-ground/remote-host) and for a stack on a test Swarm (proving-ground/swarm-cluster), and
the local stacks' passphrase.
Each caller adds its own keys (its repository, Redis, a network of its own)."""

from __future__ import annotations

import os

#: the local stacks' documented, non-secret passphrase
PASSPHRASE = "laravel-stack-local"
#: the project's Redis image (proving-ground/bootstrap-docker.sh pushes it)
REDIS_IMAGE = "127.0.0.1:5000/laravel-stack/redis:7"
#: Redis on, and the app's cache, sessions and queue in it
REDIS = {
    "redis.enabled": "true",
    "redis.image": REDIS_IMAGE,
    "app.extra_env.CACHE_DRIVER": "redis",
    "app.extra_env.SESSION_DRIVER": "redis",
    "app.extra_env.QUEUE_CONNECTION": "redis",
}


def remote(name: str, tag: str, port: int, server: dict[str, str]) -> dict[str, str]:
    """A stack on the SSH test server: `server` is `proving-ground/remote-host env`'s settings."""
    return {
        "name": name,
        "docker.host": f"ssh://deploy@{server['REMOTE_ADDRESS']}",
        "docker.known_hosts[0]": server["REMOTE_KNOWN_HOSTS"],
        "image.tag": tag,
        "web.host": server["REMOTE_ADDRESS"],
        "web.port": str(port),
    }


def swarm_shared_dir(name: str, cluster: dict[str, str]) -> str:
    """The stack's directory that every node sees (storage/ and public/, owned by www-data)."""
    shared = os.path.join(cluster["SWARM_SHARED"], name)
    for sub in ("storage", "public"):
        os.makedirs(os.path.join(shared, sub), exist_ok=True)
        os.chown(os.path.join(shared, sub), 33, 33)
    return shared


def swarm(name: str, tag: str, port: int, cluster: dict[str, str], shared: str) -> dict[str, str]:
    """A stack on a test Swarm of 2 nodes (`proving-ground/swarm-cluster env`'s settings), its
    manager over SSH, 2 web tasks of php-fpm, its storage a bind of `shared` (standing in for NFS),
    Redis for cache, sessions and queue. Set them with `config set-all --path --plaintext`: a
    value starts with "--"."""
    return {
        "name": name,
        "docker.host": f"ssh://deploy@{cluster['SWARM_MANAGER']}",
        "docker.known_hosts[0]": cluster["SWARM_KNOWN_HOSTS"],
        "image.tag": tag,
        "web.port": str(port),
        "web.replicas": "2",
        "web.command[0]": "php-fpm8.2",
        "web.command[1]": "--nodaemonize",
        "web.command[2]": "--force-stderr",
        "swarm.enabled": "true",
        # A bind of one directory every node's engine sees stands in for NFS.
        "swarm.storage.driver_options.type": "none",
        "swarm.storage.driver_options.o": "bind",
        "swarm.storage.driver_options.device": shared,
        "swarm.converge_timeout": "180",
        **REDIS,
    }
