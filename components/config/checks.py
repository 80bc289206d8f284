"""The rules that span keys, in one place.

The checks inside one object (a section whose keys depend on each other) run as that model's
pydantic validators, which call the functions here and raise: pydantic reports them at the
object's key path. The checks across sections run on the validated tree (`cross_checks`) and
return one line per problem, each naming the key the user has to change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from .schema import (
        HookConfig,
        HooksConfig,
        NetworkConfig,
        RegistryConfig,
        StackConfig,
        TlsConfig,
    )


def known_hosts_name(host: str, port: int | None) -> str:
    """How known_hosts names a server: `host`, or `[host]:port` for a port other than 22."""
    return host if port in (None, 22) else f"[{host}]:{port}"


# Within one section: raised from the model's validator (ValueError), reported at its path.


def registry_credentials(r: RegistryConfig) -> None:
    if (r.username is None) != (r.password is None):
        raise ValueError("username and password go together (password as a secret)")


def network_external(n: NetworkConfig) -> None:
    if n.external and not n.name:
        raise ValueError("an external network must be given by name (network.name)")


def tls_mode(t: TlsConfig) -> None:
    need: dict[str, tuple[str, ...]] = {
        "off": (),
        "files": ("domains", "certificate", "key"),
        "acme": ("domains", "email"),
    }
    missing = [k for k in need[t.mode] if not getattr(t, k)]
    if missing:
        raise ValueError(f"mode {t.mode} needs {', '.join(missing)}")
    if t.mode == "acme":
        if t.certificate or t.key:
            raise ValueError("mode acme issues its own certificate: remove certificate and key")
        wild = [d for d in t.domains if d.startswith("*.")]
        if wild:
            raise ValueError(
                f"mode acme cannot issue {', '.join(wild)}: HTTP-01 proves single names "
                "(use mode files for a wildcard certificate)"
            )
    if len(set(t.domains)) != len(t.domains):
        raise ValueError("domains lists a name twice")
    if t.on and not t.site_name:
        raise ValueError(
            "domains needs one name without `*.`: the release's verify step requests it"
        )


def hook_command(h: HookConfig) -> None:
    if (h.run is None) == (h.script is None):
        raise ValueError("give exactly one of run (an argv list) or script (a path)")
    if h.run is not None and not h.run:
        raise ValueError("run: an empty argv")
    if h.as_root and len(h.reason.strip()) < 10:
        raise ValueError("as_root: true needs a reason (why the web user cannot run it)")
    if h.reason and not h.as_root:
        raise ValueError("reason: only with as_root: true")


def hooks_unique(hooks: HooksConfig, points: tuple[str, ...]) -> None:
    names = [h.name for point in points for h in getattr(hooks, point)]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"hook names must be unique: {', '.join(twice)}")


# Across sections: run on the validated tree, one line per problem.


def cross_checks(cfg: StackConfig) -> list[str]:
    """Rules that span sections, reported against the key the user has to change."""
    problems = []
    for key, host in (("docker.host", cfg.docker.host), ("image.build_host", cfg.image.build_host)):
        url = urlsplit(host or "")
        if url.scheme != "ssh" or not url.hostname:
            continue
        name = known_hosts_name(url.hostname, url.port)
        pinned = any(name in line.split(" ", 1)[0].split(",") for line in cfg.docker.known_hosts)
        if not pinned:
            problems.append(
                f"docker.known_hosts: no line for {name} ({key} {host}): pin the server's host "
                f"key (`ssh-keyscan -t ed25519{'' if url.port in (None, 22) else f' -p {url.port}'}"
                f" {url.hostname}`, checked out of band); it is never trusted on first use"
            )
    problems += tls_checks(cfg)
    problems += swarm_checks(cfg)
    if cfg.health.build_from == "header" and (cfg.web.runtime != "fpm" or cfg.swarm.enabled):
        where = "a swarm stack" if cfg.swarm.enabled else "web.runtime octane"
        problems.append(
            f"health.build_from: header needs PHP-FPM on one engine (the stack's build header is "
            f"added by the FPM worker); in {where} use body: a route answering JSON with "
            f"{cfg.health.build_field!r} = config('app.build')"
        )
    if cfg.build_from == "header" and any(c in cfg.health.path for c in '"$\\'):
        problems.append(
            'health.path: no ", $ or \\ with health.build_from header (it goes into php.ini)'
        )
    prepend = cfg.web.php_ini.get("auto_prepend_file")
    if cfg.build_from == "header" and prepend:
        problems.append(
            f"web.php_ini.auto_prepend_file: the stack's build header uses it ({prepend!r} "
            "given); set health.build_from: body to keep yours"
        )
    if cfg.release.maintenance and cfg.release.maintenance_secret is None:
        problems.append(
            "release.maintenance_secret: required with release.maintenance (the path that lets "
            "you in during maintenance): `pulumi config set --secret --path "
            "release.maintenance_secret <a long random string>`"
        )
    if cfg.registry and not cfg.image.repository.startswith(cfg.registry.server + "/"):
        problems.append(
            f"image.repository: must live on registry.server ({cfg.registry.server}/...)"
        )
    return problems


#: Laravel settings that keep state on the node that wrote it (and Laravel's defaults)
NODE_LOCAL = {"SESSION_DRIVER": "file", "CACHE_DRIVER": "file", "CACHE_STORE": None}
SHARED_DRIVERS = ("redis", "database")


def swarm_checks(cfg: StackConfig) -> list[str]:
    """A swarm stack is several nodes: nothing a request or a worker depends on may be local to
    one of them. Keys only a swarm stack reads are refused elsewhere (they would do nothing)."""
    sw = cfg.swarm
    if not sw.enabled:
        only = [("swarm.storage", sw.storage is not None),
                ("web.replicas", cfg.web.replicas != 1),
                ("network.encrypted", cfg.network.encrypted)]  # fmt: skip
        return [f"{key}: only in a swarm stack (swarm.enabled)" for key, given in only if given]
    problems = []
    if sw.storage is None:
        problems.append(
            "swarm.storage.driver_options: required in a swarm stack: storage/ and each build's "
            "public/ must be the same on every node, a node-local volume is not (NFS: "
            "{type: nfs, o: addr=<server>,rw, device: ':/export/laravel'})"
        )
    if cfg.web.command is None and cfg.web.runtime == "fpm":
        problems.append(
            "web.command: required in a swarm stack with web.runtime fpm: the app image's FPM "
            "command, which every task runs after its release chain (e.g. "
            "[php-fpm8.2, --nodaemonize]; octane has a default)"
        )
    unsupported = [
        ("web.tls.mode", cfg.web.tls.on, "TLS is not yet supported in a swarm stack"),
        ("network.external", cfg.network.external, "a swarm stack creates its own overlay"),
        ("release.maintenance", cfg.release.maintenance, "not yet supported in a swarm stack"),
        ("release.backup", bool(cfg.release.backup), "not yet supported in a swarm stack"),
        ("release.hooks", any(cfg.release.hooks.model_dump().values()),
         "not yet supported in a swarm stack"),
        ("release.notify", bool(cfg.release.notify), "not yet supported in a swarm stack"),
    ]  # fmt: skip
    problems += [f"{key}: {why}" for key, bad, why in unsupported if bad]
    for key in NODE_LOCAL:
        value = cfg.app.extra_env.get(key)
        if value is not None and value not in SHARED_DRIVERS:
            problems.append(
                f"app.extra_env.{key}: {value!r} keeps its data on one node in a swarm stack; "
                f"use {' or '.join(SHARED_DRIVERS)}"
            )
    return problems


def swarm_warnings(cfg: StackConfig) -> list[str]:
    """Unset drivers whose Laravel default is node-local: a warning, naming the key."""
    if not cfg.swarm.enabled:
        return []
    env = cfg.app.extra_env
    out = []
    for key, default in NODE_LOCAL.items():
        if (
            default is not None
            and key not in env
            and not (key == "CACHE_DRIVER" and "CACHE_STORE" in env)
        ):
            out.append(
                f"app.extra_env.{key}: unset, so Laravel's default {default!r}, which is "
                f"node-local in a swarm stack: set it to {' or '.join(SHARED_DRIVERS)}"
            )
    return out


def tls_checks(cfg: StackConfig) -> list[str]:
    from ..core import tls

    t = cfg.web.tls
    if not t.on:
        return []
    problems = []
    if t.https_port == cfg.web.port:
        problems.append(
            f"web.tls.https_port: {t.https_port} is web.port too: HTTP and HTTPS need two ports"
        )
    if cfg.app.url and not cfg.app.url.startswith("https://"):
        problems.append(f"app.url: {cfg.app.url} must be https:// with web.tls.mode {t.mode}")
    if t.ca_roots is not None:
        problems += tls.check_roots(t.ca_roots)
    if t.mode == "files" and t.certificate and t.key:
        problems += tls.check_files(t.certificate, t.key.get_secret_value(), t.domains)
    return problems
