"""The stack's config as one pydantic model tree: every key, its type, default and meaning."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    field_validator,
    model_validator,
)

from . import checks

Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")]
Port = Annotated[int, Field(ge=1, le=65535)]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$")]
Path = Annotated[str, StringConstraints(pattern=r"^/\S*$")]

# Keys whose value must be a Pulumi secret: (top-level key, field path inside it).
SECRET_FIELDS: tuple[tuple[str, str], ...] = (
    ("registry", "password"),
    ("database", "password"),
    ("database", "root_password"),
    ("app", "key"),
    ("web", "tls.key"),
    ("release", "maintenance_secret"),
    ("release", "notify[].url"),
)

# Production php.ini from the field notes: OPcache never re-reads files, so the release
# chain's OPcache reset is what makes new code visible.
DEFAULT_PHP_INI: dict[str, str] = {
    "opcache.enable": "1",
    "opcache.enable_cli": "0",
    "opcache.memory_consumption": "256",
    "opcache.max_accelerated_files": "20000",
    "opcache.validate_timestamps": "0",
    "opcache.jit": "tracing",
    "opcache.jit_buffer_size": "100M",
    "memory_limit": "512M",
    "upload_max_filesize": "20M",
    "post_max_size": "20M",
    "date.timezone": "UTC",
    "expose_php": "Off",
}

StepName = Literal[
    "contract",
    "ownership",
    "backup",
    "maintenance-down",
    "migrate",
    "cache-clear",
    "opcache-reset",
    "cache-rebuild",
    "workers-restart",
    "health",
    "switch",
    "verify",
    "maintenance-up",
    "public-prune",
    "retention",
]
#: the release chain's steps, in chain order (`release.skip` names them)
STEP_NAMES: tuple[str, ...] = get_args(StepName)


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _scalars_as_text(v: Any) -> Any:
    # `pulumi config set --path x.y 1` stores a number: env vars and build args are text.
    if isinstance(v, Mapping):
        return {
            k: (str(x).lower() if isinstance(x, bool) else str(x))
            if isinstance(x, int | float | bool)
            else x
            for k, x in v.items()
        }
    return v


class ImageConfig(Model):
    context: str = Field(default=".", description="Build context (relative to the project).")
    dockerfile: str = Field(default="Dockerfile", description="The Dockerfile inside the context.")
    build_args: dict[str, str] = Field(
        default={}, description="Build args (numbers and booleans given in config become text)."
    )
    target: str | None = Field(
        default=None, description="Multi-stage target; none: the last stage."
    )
    platform: str = Field(
        default="linux/amd64",
        description="The pinned platform the image is built for: `linux/amd64`, `linux/arm64`, "
        "`linux/arm/v7`, `linux/386`, `linux/ppc64le` or `linux/s390x`.",
    )
    build_host: str | None = Field(
        default=None,
        description="The **build** engine that builds and pushes the image (`unix://…`, "
        "`ssh://user@host[:port]`, `tcp://host:port`); none: the engine where `pulumi up` runs "
        "(`$DOCKER_HOST` or the local socket: the CI runner, the laptop). The deploy engine "
        "(`docker.host`) only pulls the pushed digest. An `ssh://` remote builder needs its "
        "line in `docker.known_hosts`.",
    )
    repository: Annotated[str, StringConstraints(min_length=1)] = Field(
        description="Registry repository of the app image, lowercase, without tag or digest "
        "(e.g. `registry.example.com/team/app`); with `registry.server` set it must live on it."
    )
    tag: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")] = Field(
        description="Release tag pushed alongside the digest (a git sha, a date: letters, digits, "
        "`_`, `.`, `-`, up to 128); `latest` is rejected: containers run the pushed digest anyway."
    )
    digest: Annotated[str, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")] | None = Field(
        default=None,
        description="Deploy this already-pushed build of `image.repository` (`sha256:…`) as it "
        'is instead of building: a rollback (see "Roll back"). Nothing is built or pushed; '
        "the whole release chain runs for it. None: build and push the project.",
    )

    _build_args_text = field_validator("build_args", mode="before")(_scalars_as_text)

    @field_validator("build_host")
    @classmethod
    def _build_host_url(cls, v: str | None) -> str | None:
        return None if v is None else _engine_url(v)

    @field_validator("repository")
    @classmethod
    def _repository_without_tag(cls, v: str) -> str:
        last = v.rsplit("/", 1)[-1]
        if "@" in v or ":" in last:
            raise ValueError(
                "give the repository without tag or digest (the tag goes in image.tag)"
            )
        if v != v.lower() or " " in v:
            raise ValueError(
                "must be a lowercase image repository like registry.example.com/team/app"
            )
        return v

    @field_validator("tag")
    @classmethod
    def _no_latest(cls, v: str) -> str:
        if v == "latest":
            raise ValueError(
                "'latest' is not allowed for the app image: use a release tag (git sha, date); "
                "containers run the pushed digest anyway"
            )
        return v

    @field_validator("platform")
    @classmethod
    def _platform(cls, v: str) -> str:
        if not re.fullmatch(r"linux/(amd64|arm64|arm/v7|386|ppc64le|s390x)", v):
            raise ValueError("must be a pinned platform such as linux/amd64 or linux/arm64")
        return v


class RegistryConfig(Model):
    server: Annotated[str, StringConstraints(min_length=1)] = Field(
        description="Registry host (e.g. `registry.example.com`); `image.repository` must live "
        "on it."
    )
    username: str | None = Field(
        default=None,
        description="Registry login; none: no login (given together with the password).",
    )
    password: SecretStr | None = Field(
        default=None,
        description="Registry password or token (required with a username, and only with one).",
    )

    @model_validator(mode="after")
    def _credentials_together(self) -> RegistryConfig:
        checks.registry_credentials(self)
        return self


def _engine_url(v: str) -> str:
    url = urlsplit(v)
    if url.scheme == "unix" and url.path.startswith("/") and not url.netloc:
        return v
    if url.scheme == "ssh" and url.username and url.hostname and url.path in ("", "/"):
        return v
    if url.scheme == "tcp" and url.hostname and url.port:
        return v
    raise ValueError(
        "must be unix:///path/to/docker.sock, ssh://user@host[:port] or tcp://host:port"
    )


# One known_hosts line: host pattern(s), key type, base64 key (comments are dropped by ssh-keyscan
# -q anyway). The charset keeps it inert in the shell line ssh runs for KnownHostsCommand.
KNOWN_HOSTS_LINE = re.compile(
    r"^(?P<hosts>[A-Za-z0-9.:\[\],_-]+) (?P<type>(ssh|ecdsa|sk)-[a-z0-9@.-]+) [A-Za-z0-9+/]+={0,2}$"
)


class DockerConfig(Model):
    host: str = Field(
        default="unix:///var/run/docker.sock",
        description="The **deploy** engine: every container and every release step run there "
        "(it only pulls the pushed digest): `unix:///path/to/docker.sock`, "
        "`ssh://user@host[:port]` or `tcp://host:port`. In a swarm stack, a manager.",
    )
    known_hosts: list[str] = Field(
        default=[],
        description="The server's host key, pinned: one `known_hosts` line per ssh:// engine "
        "(`host ssh-ed25519 AAAA…`, as printed by `ssh-keyscan -t ed25519 host`; `[host]:port` "
        "for a port other than 22). Required for each ssh:// `docker.host` and "
        "`image.build_host`; the provider, the preflight and every release step trust only these "
        "lines (never `~/.ssh/known_hosts`, never trust on first use).",
    )
    ssh_multiplex: bool = Field(
        default=True,
        description="One shared ssh connection per stack (`ControlMaster`, socket "
        "`/tmp/laravel-stack-<name>-<hash of the pinned keys>-%C`, kept 60 s) instead of one "
        "per command; a changed pin never reuses a connection opened under the old one.",
    )

    @field_validator("host")
    @classmethod
    def _host_url(cls, v: str) -> str:
        return _engine_url(v)

    @field_validator("known_hosts")
    @classmethod
    def _lines(cls, v: list[str]) -> list[str]:
        for i, line in enumerate(v):
            if not KNOWN_HOSTS_LINE.match(line.strip()):
                raise ValueError(
                    f"line {i + 1} is not a known_hosts line (`host ssh-ed25519 AAAA…`, as "
                    "printed by `ssh-keyscan -t ed25519 host`)"
                )
        return [line.strip() for line in v]


class NetworkConfig(Model):
    name: Name | None = Field(
        default=None, description="The network's name; none: `<name>-internal`."
    )
    external: bool = Field(
        default=False,
        description="Use an existing network (e.g. `docker_internal`, given by `network.name`, "
        "which is then required) instead of creating one; refused in a swarm stack (it creates "
        "its own overlay).",
    )
    encrypted: bool = Field(
        default=False,
        description="Swarm stacks only: IPsec between nodes (the overlay's `encrypted` option; "
        "needs ESP between the nodes); refused outside a swarm stack.",
    )

    @model_validator(mode="after")
    def _external_needs_name(self) -> NetworkConfig:
        checks.network_external(self)
        return self


class DatabaseConfig(Model):
    image: str = Field(default="mysql:8.0", description="MySQL (or compatible) image.")
    database: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,64}$")] = Field(
        default="laravel",
        description="Database created on first start (letters, digits, `_`; up to 64).",
    )
    user: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,32}$")] = Field(
        default="laravel",
        description="The application user (letters, digits, `_`; up to 32); not `root`.",
    )
    password: SecretStr = Field(description="The application user's password.")
    root_password: SecretStr = Field(description="MySQL's root password.")
    volume: Name | None = Field(
        default=None, description="The data volume; none: `<name>-db-data`."
    )
    retain_volume: bool = Field(
        default=True, description="`pulumi destroy` leaves the data volume on the host."
    )
    protect_volume: bool = Field(
        default=True, description="Pulumi refuses to delete the data volume (destroy refuses)."
    )

    @field_validator("user")
    @classmethod
    def _not_root(cls, v: str) -> str:
        if v == "root":
            raise ValueError("the app must not connect as root: name an application user")
        return v


class RedisConfig(Model):
    enabled: bool = Field(
        default=False, description="Run Redis; sets `REDIS_HOST`/`REDIS_PORT` in the app's env."
    )
    image: str = Field(default="redis:7.4", description="Redis image.")


# A DNS name the edge serves (lowercase; `*.` only for a certificate from files).
Domain = Annotated[
    str,
    StringConstraints(
        pattern=r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
    ),
]


class TlsConfig(Model):
    """HTTPS at the edge (Caddy in front of the stable nginx): `off`, a certificate from
    secrets (`files`), or issued and renewed over ACME (`acme`)."""

    mode: Literal["off", "files", "acme"] = Field(
        default="off",
        description="`off`, `files` (a certificate from secrets: needs `domains`, "
        "`certificate` and `key`) or `acme` (issued and renewed over ACME: needs `domains` and "
        '`email`, no certificate or key); see "HTTPS". On: the edge publishes `web.port` '
        "(HTTP: redirects, ACME challenges) and `web.tls.https_port`, nginx none; `app.url`, "
        "if set, must be https://. Refused in a swarm stack (not yet supported).",
    )
    domains: list[Domain] = Field(
        default=[],
        description="The names served (lowercase DNS names, each once); required when on. The "
        "first one without `*.` is the URLs' and the verify step's name (one is required); "
        "`*.` only in `files` (`acme` proves single names over HTTP-01).",
    )
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = Field(
        default=None, description="`acme`: the ACME account's contact (expiry notices)."
    )
    certificate: str | None = Field(
        default=None,
        description="`files`: the PEM chain, leaf first (set through stdin; public: it need not "
        "be a secret). Checked against the key and the domains.",
    )
    key: SecretStr | None = Field(
        default=None,
        description="`files`: the certificate's unencrypted PEM private key (`--secret`, "
        "through stdin).",
    )
    acme_directory: Annotated[str, StringConstraints(pattern=r"^https://\S+$")] | None = Field(
        default=None,
        description="`acme`: another ACME directory URL (https://); none: Caddy's (Let's "
        "Encrypt, ZeroSSL).",
    )
    ca_roots: str | None = Field(
        default=None,
        description="PEM roots trusted beyond the system's: by the edge for the ACME "
        "directory's HTTPS, and by the verify step for the served certificate (a private CA).",
    )
    https_port: Port = Field(
        default=443,
        description="Published HTTPS port (the edge listens on the same ports inside); not "
        "`web.port`. Shown in the URLs when not 443.",
    )
    hsts_seconds: Annotated[int, Field(ge=0, le=63072000)] = Field(
        default=31536000,
        description="`Strict-Transport-Security: max-age=…` on HTTPS responses; `0`: no header.",
    )
    edge_image: str = Field(
        default="caddy:2.6",
        description="The edge's image (the official image's layout: `/etc/caddy/Caddyfile`, "
        "data in `/data`).",
    )
    volume: Name | None = Field(
        default=None,
        description="The edge's retained data volume (certificates, ACME account); none: "
        "`<name>-tls`.",
    )

    @property
    def on(self) -> bool:
        return self.mode != "off"

    @model_validator(mode="after")
    def _mode_needs(self) -> TlsConfig:
        checks.tls_mode(self)
        return self

    @property
    def site_name(self) -> str | None:
        """The name URLs and the verify step use: the first one without a wildcard."""
        return next((d for d in self.domains if not d.startswith("*.")), None)

    @property
    def base_url(self) -> str:
        """The site's public https:// base (web_url, APP_URL), the port only when not 443."""
        port = "" if self.https_port == 443 else f":{self.https_port}"
        return f"https://{self.site_name}{port}"


class WebConfig(Model):
    runtime: Literal["fpm", "octane"] = Field(
        default="fpm",
        description="`fpm` (nginx + PHP-FPM: nginx passes FastCGI to `web.fpm_port`) or "
        "`octane` (FrankenPHP + Octane: nginx proxies HTTP/1.1 to `web.octane_port`); both also "
        'in a swarm stack, where nginx reaches `tasks.<app>` (see "Scale out: Docker Swarm").',
    )
    nginx_image: str = Field(
        default="nginx:1.27",
        description="nginx image: the stable web entry in front of the app's server "
        "(FastCGI to FPM, HTTP to Octane).",
    )
    host: str = Field(
        default="127.0.0.1",
        description="IPv4 address the web entry is published on (e.g. `127.0.0.1` or `0.0.0.0`).",
    )
    port: Port = Field(default=8080, description="Published (HTTP) port.")
    app_root: Path = Field(default="/var/www/html", description="The app's root inside the image.")
    fpm_port: Port = Field(default=9000, description="PHP-FPM's TCP port in the app container.")
    octane_port: Port = Field(default=8000, description="Octane's port in its container.")
    php_ini: dict[str, str] = Field(
        default=DEFAULT_PHP_INI,
        description="php.ini settings, merged over the production defaults (listed below) "
        "instead of replacing them; values become text. With `health.build_from` header the "
        "stack uses `auto_prepend_file` itself (setting it is refused).",
    )
    php_ini_dir: Path = Field(
        default="/usr/local/etc/laravel-stack/php",
        description="Where the ini is uploaded in the app container; added to `PHP_INI_SCAN_DIR`.",
    )
    destroy_grace_seconds: Annotated[int, Field(ge=0, le=600)] = Field(
        default=30, description="Seconds containers get to finish work before being killed."
    )
    wait_healthy: bool = Field(
        default=False,
        description="Also make `up` wait for the new app container's Docker health check (the "
        "stack's own: the chain's probe of `health.path`, FastCGI for `fpm`; the image needs no "
        "`HEALTHCHECK`) before the release chain touches it. Off: the chain's `contract` step "
        "checks the image at once and its `health` step proves the container answers with the "
        "build, so a broken image fails with its cause instead of a health-wait timeout. On, that "
        "health check probes every 2 s instead of every 10 s (Docker probes first one interval "
        "after the start).",
    )
    wait_timeout: Annotated[int, Field(ge=1, le=1800)] = Field(
        default=120, description="Seconds to wait for it (`web.wait_healthy`)."
    )
    replicas: Annotated[int, Field(ge=1, le=64)] = Field(
        default=1,
        description="Swarm stacks only: app tasks (at most `swarm.max_per_node` on one node); "
        "refused outside a swarm stack.",
    )
    command: list[Annotated[str, StringConstraints(min_length=1)]] | None = Field(
        default=None,
        description="Swarm stacks: the app image's web command (its CMD), run by every task "
        "after its release chain (FPM's varies by image: `[php-fpm8.2, --nodaemonize]`). "
        "Required with `fpm`; none with `octane`: `php artisan octane:frankenphp "
        "--host=0.0.0.0 --port=<web.octane_port>` (the one-engine stack's command); for Octane "
        "it must listen on `0.0.0.0:<web.octane_port>`.",
    )
    tls: TlsConfig = Field(
        default=TlsConfig(),
        description='HTTPS at the edge (Caddy in front of the stable nginx); see "HTTPS".',
    )

    @property
    def app_port(self) -> int:
        """Where the app's own server listens in its container: FPM's or Octane's port."""
        return self.fpm_port if self.runtime == "fpm" else self.octane_port

    def app_url(self, host: str, path: str) -> str:
        """`path` on the app's own server at `host`, as health_probe.php takes it: FastCGI to
        FPM, HTTP to Octane."""
        scheme = "fcgi" if self.runtime == "fpm" else "http"
        return f"{scheme}://{host}:{self.app_port}{path}"

    @field_validator("host")
    @classmethod
    def _ip(cls, v: str) -> str:
        parts = v.split(".")
        if len(parts) != 4 or not all(p.isdigit() and 0 <= int(p) <= 255 for p in parts):
            raise ValueError("must be an IPv4 address to publish on, e.g. 127.0.0.1 or 0.0.0.0")
        return v

    @field_validator("php_ini", mode="before")
    @classmethod
    def _merge_ini(cls, v: Any) -> Any:
        # Settings given in config override the production defaults instead of replacing them.
        if isinstance(v, Mapping):
            return {**DEFAULT_PHP_INI, **{k: str(x) for k, x in v.items()}}
        return v


LabelText = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*=[A-Za-z0-9_.-]+$")
]


class SharedStorageConfig(Model):
    """A volume every node mounts the same: the local driver's options (NFS in production:
    {type: nfs, o: "addr=10.0.0.5,rw,nfsvers=4.1", device: ":/export/laravel"})."""

    driver_options: dict[Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.-]+$")], str] = Field(
        description="The local driver's options of the volume every node mounts the same: "
        "`storage/` and each build's `public/`; needs `type` and `device`. NFS: `{type: nfs, "
        'o: "addr=10.0.0.5,rw,nfsvers=4.1", device: ":/export/laravel"}`; the stack uses '
        "`<device>/storage` and `<device>/public` (create both, owned by the web user)."
    )

    @field_validator("driver_options")
    @classmethod
    def _shared(cls, v: dict[str, str]) -> dict[str, str]:
        if not v.get("type") or not v.get("device"):
            raise ValueError(
                "needs `type` and `device` (NFS: type=nfs, o=addr=<server>,rw, device=:/export)"
            )
        return v


class SwarmConfig(Model):
    """A Docker Swarm: docker.host is a manager; the app runs as services across the nodes."""

    enabled: bool = Field(
        default=False,
        description="The swarm runtime: `docker.host` is a manager (ssh://, host key pinned); "
        "the app runs as services across the nodes. Not yet supported with it: `web.tls`, "
        "`network.external`, `release.maintenance`, `release.backup`, `release.hooks`, "
        "`release.notify`.",
    )
    data_label: LabelText = Field(
        default="laravel-stack.data=true",
        description="The node label (`key=value`) MySQL and Redis are pinned to (their "
        "volumes live there).",
    )
    max_per_node: Annotated[int, Field(ge=0, le=64)] = Field(
        default=1,
        description="App tasks on one node at most (`0`: no limit). With 1, a lost node's app "
        'task waits for a node with room ("When a node dies"); 2 lets the survivors take it. '
        "Several app tasks roll out `stop-first` for this reason: start-first needs a free slot "
        "beside the old task, and with one per node and as many replicas as nodes Swarm has "
        "nowhere to start it (seen: the rollout never converged).",
    )
    storage: SharedStorageConfig | None = Field(
        default=None,
        description="`storage/` (uploads, `storage/app/public`) and each build's `public/`: the "
        "same on every node. Required in a swarm stack (a node-local volume is refused); "
        "refused outside one.",
    )
    converge_timeout: Annotated[int, Field(ge=30, le=3600)] = Field(
        default=300,
        description="Seconds `up` waits for a service to converge (every task running and "
        "healthy).",
    )
    stop_grace_seconds: Annotated[int, Field(ge=1, le=3600)] = Field(
        default=30,
        description="Workers and the scheduler: seconds between the stop signal (SIGTERM) and "
        "SIGKILL.",
    )


class QueueConfig(Model):
    enabled: bool = Field(
        default=True,
        description="Run queue workers (off: the chain's `workers-restart` step does not run).",
    )
    command: list[str] = Field(
        default=[
            "php",
            "artisan",
            "queue:work",
            "--sleep=3",
            "--tries=3",
            "--max-time=3600",
        ],
        description="The worker command (an argv list).",
    )
    replicas: Annotated[int, Field(ge=1, le=32)] = Field(
        default=1, description="Number of workers."
    )


class SchedulerConfig(Model):
    enabled: bool = Field(default=True, description="Run the scheduler.")
    command: list[str] = Field(
        default=["php", "artisan", "schedule:work"],
        description="The scheduler command (an argv list).",
    )


class PublicInitConfig(Model):
    public_path: Path = Field(
        default="/var/www/html/public",
        description="The image's public directory, copied into the public volume.",
    )
    storage_link: bool = Field(
        default=True, description="Create `public/storage → ../storage/app/public` in the volume."
    )


class WebUserConfig(Model):
    name: Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_-]{0,31}$")] = Field(
        default="www-data",
        description="The user artisan, workers, hooks and ownership checks use (a Unix user name).",
    )
    uid: Annotated[int, Field(ge=1, le=65534)] = Field(
        default=33, description="The web user's uid."
    )
    gid: Annotated[int, Field(ge=1, le=65534)] = Field(
        default=33, description="The web user's gid."
    )


class AppConfig(Model):
    env: Annotated[str, StringConstraints(pattern=r"^[a-z]+$")] = Field(
        default="production", description="`APP_ENV` (lowercase letters)."
    )
    key: SecretStr = Field(
        description="`APP_KEY`: `base64:` + 32 bytes (`php artisan key:generate --show`)."
    )
    debug: bool = Field(default=False, description="`APP_DEBUG`.")
    url: str | None = Field(
        default=None,
        description="`APP_URL`; also the base of the `web_url` output. Must be https:// with "
        "`web.tls` on. None: with `web.tls` on, the site's https:// base (the first name of "
        "`web.tls.domains` without `*.`, the port when not 443) for both; otherwise `APP_URL` "
        "is not set and `web_url` is the published address.",
    )
    extra_env: dict[EnvName, str] = Field(
        default={},
        description="More env vars (`UPPER_CASE` names; values become text). The stack-managed "
        "ones (`APP_KEY`, `APP_BUILD`, `DB_PASSWORD`, `DB_HOST`, `DB_DATABASE`, `DB_USERNAME`) "
        "are rejected. In a swarm stack `SESSION_DRIVER`, `CACHE_DRIVER` and `CACHE_STORE` must "
        "be `redis` or `database` (a node-local driver such as `file` or `array` is refused; "
        "left unset, Laravel's default `file`, they are a warning naming the key); use the same "
        "for `QUEUE_CONNECTION`.",
    )

    _extra_env_text = field_validator("extra_env", mode="before")(_scalars_as_text)

    @field_validator("key")
    @classmethod
    def _laravel_key(cls, v: SecretStr) -> SecretStr:
        import base64
        import binascii

        raw = v.get_secret_value()
        if not raw.startswith("base64:"):
            raise ValueError("must look like base64:<44 chars> (php artisan key:generate --show)")
        try:
            decoded = base64.b64decode(raw[len("base64:") :], validate=True)
        except binascii.Error:
            raise ValueError("is not valid base64 after 'base64:'") from None
        if len(decoded) != 32:
            raise ValueError("must decode to 32 bytes for AES-256-CBC")
        return v

    @field_validator("extra_env")
    @classmethod
    def _no_managed_keys(cls, v: dict[str, str]) -> dict[str, str]:
        managed = {
            "APP_KEY",
            "APP_BUILD",
            "DB_PASSWORD",
            "DB_HOST",
            "DB_DATABASE",
            "DB_USERNAME",
        }
        clash = sorted(managed & v.keys())
        if clash:
            raise ValueError(f"{', '.join(clash)} are set by the stack; remove them from extra_env")
        return v


#: where a hook runs in the chain: after `ownership` (before the backup and `migrate`), after
#: `health` (the new build checked, traffic still on the old), after `verify` (and
#: `maintenance-up`: traffic on the new build)
HOOK_POINTS = ("after_ownership", "before_switch", "after_verify")
HookName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]


class HookConfig(Model):
    """One of your own release steps: `run` (an argv, no shell) or `script` (an executable
    file inside the image), in the new app container, as the web user, with its env."""

    name: HookName = Field(
        description="The hook's name (`a-z0-9-`, up to 40), unique across the three points."
    )
    run: list[Annotated[str, StringConstraints(min_length=1)]] | None = Field(
        default=None, description="An argv (no shell); exactly one of `run` and `script`."
    )
    script: Path | None = Field(
        default=None,
        description="An executable file's absolute path inside the image; exactly one of `run` "
        "and `script`.",
    )
    timeout: Annotated[int, Field(ge=1, le=3600)] = Field(
        default=300, description="Seconds the hook may take."
    )
    as_root: bool = Field(default=False, description="Run as root instead of the web user.")
    reason: str = Field(
        default="",
        description="Why the web user cannot run it: required with `as_root: true` (at least 10 "
        "characters), refused without it.",
    )

    @model_validator(mode="after")
    def _one_command(self) -> HookConfig:
        checks.hook_command(self)
        return self

    @property
    def argv(self) -> list[str]:
        return list(self.run) if self.run is not None else [str(self.script)]


class HooksConfig(Model):
    after_ownership: list[HookConfig] = Field(
        default=[], description="Hooks run after `ownership` (before the backup and `migrate`)."
    )
    before_switch: list[HookConfig] = Field(
        default=[],
        description="Hooks run after `health` (the new build checked, traffic still on the old).",
    )
    after_verify: list[HookConfig] = Field(
        default=[],
        description="Hooks run after `verify` (and `maintenance-up`: traffic on the new build).",
    )

    @model_validator(mode="after")
    def _unique(self) -> HooksConfig:
        checks.hooks_unique(self, HOOK_POINTS)
        return self


class WebhookConfig(Model):
    """A webhook told of every release outcome; the URL is a Pulumi secret."""

    url: SecretStr = Field(description="The webhook's URL (http:// or https://).")
    format: Literal["slack", "json"] = Field(
        default="json",
        description="The post's body: `json` or `slack` (an incoming webhook's message).",
    )

    @field_validator("url")
    @classmethod
    def _http(cls, v: SecretStr) -> SecretStr:
        # Never echo the URL: it is the secret (a Slack incoming webhook is its own credential).
        parts = urlsplit(v.get_secret_value())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL (not shown: it is a secret)")
        return v


class ReleaseConfig(Model):
    migrate: bool = Field(default=True, description="Run `migrate --force` in the chain.")
    keep: Annotated[int, Field(ge=1, le=100)] = Field(
        default=5,
        description="Builds of the app kept on the deploy engine and listed in `releases` (the "
        "last N released; the running one always).",
    )
    backup: bool | None = Field(
        default=None,
        description="Dump the app database before `migrate` into the backups volume on the "
        'deploy engine (see "Backups and restore"); none: `release.migrate`\'s value (off in a '
        "swarm stack, where setting it is refused: not yet supported). Off outside a local stack "
        "is a danger in the release plan.",
    )
    keep_backups: Annotated[int, Field(ge=1, le=100)] = Field(
        default=5, description="Backups kept in the `<name>-backups` volume (the last N)."
    )
    maintenance: bool = Field(
        default=False,
        description="`artisan down` (the app's 503 page, `Retry-After`, a bypass secret) from "
        "before `migrate` until after `verify`: for migrations the old build cannot run against "
        '(see "Maintenance mode"); the release plan says so. Needs '
        "`release.maintenance_secret`.",
    )
    maintenance_secret: SecretStr | None = Field(
        default=None,
        description="Required with `release.maintenance`: the bypass path (`/<secret>`) that "
        "lets you in during maintenance (a long random string).",
    )
    maintenance_retry: Annotated[int, Field(ge=1, le=3600)] = Field(
        default=15, description="The 503 page's `Retry-After`, in seconds."
    )
    hooks: HooksConfig = Field(
        default=HooksConfig(),
        description='Your own release steps, at three points of the chain (see "Hooks and '
        'notifications"): each `run` (an argv, no shell) or `script` (an executable file '
        "inside the image), in the new app container, as the web user, with its env.",
    )
    notify: list[WebhookConfig] = Field(
        default=[],
        description='Webhooks told of every release outcome (see "Hooks and notifications").',
    )
    notify_timeout: Annotated[int, Field(ge=1, le=60)] = Field(
        default=10,
        description="Seconds each post may take: a receiver that is down or hangs never holds "
        "a release; all posts run at once.",
    )
    skip: list[StepName] = Field(
        default=[],
        description="Steps not to run; only to prove a step matters (see README), production "
        "runs them all.",
    )


#: the response header in which an FPM worker names the build it serves (build_from: header)
BUILD_HEADER = "X-Laravel-Stack-Build"


class HealthConfig(Model):
    path: Annotated[str, StringConstraints(pattern=r"^/\S*$")] = Field(
        default="/up",
        description='The health route (a path starting with `/`; no `"`, `$` or `\\` with '
        "`health.build_from` header).",
    )
    expected_status: Annotated[int, Field(ge=100, le=599)] = Field(
        default=200, description="The status the route must return."
    )
    build_from: Literal["header", "body"] | None = Field(
        default=None,
        description="Where the check reads the served build: `header`, the "
        "`X-Laravel-Stack-Build` header that the FPM worker answering `health.path` adds (the "
        "stack's `build_header.php`, PHP's `auto_prepend_file`, naming `config('app.build')`: "
        "any route, the built-in `health: '/up'` of Laravel 11+ included; the app keeps its own "
        "route, needs only `'build' => env('APP_BUILD')`), only with PHP-FPM on one engine; "
        "`body`, the JSON field `health.build_field` of the app's own route (Octane, swarm "
        "stacks, an app with its own `auto_prepend_file`). None: `header` with `web.runtime: "
        'fpm` on one engine, else `body`. See "The one line your app adds".',
    )
    build_field: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.]+$")] = Field(
        default="build",
        description="With `build_from: body`: the JSON field (dotted path) that must equal the "
        "deployed `repository@sha256:…` (`APP_BUILD`).",
    )
    retries: Annotated[int, Field(ge=1, le=120)] = Field(
        default=30, description="Attempts (bounded)."
    )
    interval: Annotated[float, Field(gt=0, le=60)] = Field(
        default=2, description="Seconds between attempts."
    )
    timeout: Annotated[float, Field(gt=0, le=60)] = Field(
        default=5, description="Seconds per request."
    )


class StackConfig(Model):
    name: Name = Field(
        default="laravel",
        description="Prefix of every container, volume and the default network name (lowercase "
        "letters, digits, `_`, `.`, `-`; up to 63).",
    )
    image: ImageConfig = Field(
        description="The app image: built from the project and pushed (or a pushed build "
        "deployed again by digest)."
    )
    registry: RegistryConfig | None = Field(
        default=None,
        description="The registry the app image is pushed to and pulled from, and its login; "
        "none: no login.",
    )
    docker: DockerConfig = Field(
        default=DockerConfig(), description="The deploy engine and how it is reached."
    )
    network: NetworkConfig = Field(
        default=NetworkConfig(), description="The internal network the stack's containers share."
    )
    database: DatabaseConfig = Field(description="MySQL: image, database, users, data volume.")
    redis: RedisConfig = Field(
        default=RedisConfig(), description="An optional Redis beside the app."
    )
    web: WebConfig = Field(
        default=WebConfig(),
        description="The web entry (nginx), the app's server (PHP-FPM or Octane) and its php.ini.",
    )
    queue: QueueConfig = Field(default=QueueConfig(), description="Queue workers.")
    scheduler: SchedulerConfig = Field(
        default=SchedulerConfig(), description="Laravel's scheduler."
    )
    public_init: PublicInitConfig = Field(
        default=PublicInitConfig(),
        description="How each build's `public/` is put into the public volume.",
    )
    web_user: WebUserConfig = Field(
        default=WebUserConfig(),
        description="The user the app's commands run as (`name`, `uid`, `gid`).",
    )
    app: AppConfig = Field(description="The app's Laravel environment.")
    release: ReleaseConfig = Field(
        default=ReleaseConfig(),
        description="The release chain that takes a new build live, and what it keeps.",
    )
    health: HealthConfig = Field(
        default=HealthConfig(),
        description="How the release chain checks the new build answers (and is the deployed "
        "build).",
    )
    swarm: SwarmConfig = Field(
        default=SwarmConfig(),
        description="A Docker Swarm: `docker.host` is a manager; the app runs as services "
        'across the nodes (see "Scale out: Docker Swarm").',
    )

    @property
    def network_name(self) -> str:
        return self.network.name or f"{self.name}-internal"

    @property
    def db_volume(self) -> str:
        return self.database.volume or f"{self.name}-db-data"

    @property
    def backups_volume(self) -> str:
        return f"{self.name}-backups"

    @property
    def releases_volume(self) -> str:
        return f"{self.name}-releases"

    @property
    def backup(self) -> bool:
        if self.release.backup is None:
            # A swarm stack has no backup step yet (release.backup is refused there).
            return self.release.migrate and not self.swarm.enabled
        return self.release.backup

    def container(self, role: str) -> str:
        return f"{self.name}-{role}"

    @property
    def build_from(self) -> str:
        """health.build_from as it applies: header for FPM on one engine, unless set."""
        if self.health.build_from is not None:
            return self.health.build_from
        return "header" if self.web.runtime == "fpm" and not self.swarm.enabled else "body"

    @property
    def probe_field(self) -> str:
        """health_probe.php's FIELD: `header:<name>` or the JSON body's dotted key."""
        if self.build_from == "header":
            return f"header:{BUILD_HEADER}"
        return self.health.build_field

    def steps(self) -> list[str]:
        """The release steps that run, in chain order."""
        skipped = set(self.release.skip)
        if not self.release.migrate:
            skipped.add("migrate")
        if not self.backup:
            skipped.add("backup")
        if not self.release.maintenance:
            skipped |= {"maintenance-down", "maintenance-up"}
        if not self.queue.enabled:
            skipped.add("workers-restart")
        return [s for s in STEP_NAMES if s not in skipped]
