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
    context: str = "."
    dockerfile: str = "Dockerfile"
    build_args: dict[str, str] = {}
    target: str | None = None
    platform: str = "linux/amd64"
    # The engine that builds and pushes; none: the one `pulumi up` runs beside ($DOCKER_HOST or
    # the local socket). The deploy engine (docker.host) only pulls the pushed digest.
    build_host: str | None = None
    repository: Annotated[str, StringConstraints(min_length=1)]
    tag: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
    # An already-pushed build of `repository` to deploy as it is (a rollback): nothing is built
    # or pushed, the whole release chain runs for it.
    digest: Annotated[str, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")] | None = None

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
    server: Annotated[str, StringConstraints(min_length=1)]
    username: str | None = None
    password: SecretStr | None = None

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
    host: str = "unix:///var/run/docker.sock"
    known_hosts: list[str] = []
    ssh_multiplex: bool = True

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
    name: Name | None = None
    external: bool = False
    #: swarm stacks: IPsec between nodes (the overlay's `encrypted` option; needs ESP)
    encrypted: bool = False

    @model_validator(mode="after")
    def _external_needs_name(self) -> NetworkConfig:
        checks.network_external(self)
        return self


class DatabaseConfig(Model):
    image: str = "mysql:8.0"
    database: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,64}$")] = "laravel"
    user: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,32}$")] = "laravel"
    password: SecretStr
    root_password: SecretStr
    volume: Name | None = None
    # retain: `pulumi destroy` leaves the data volume on the host; protect: destroy refuses.
    retain_volume: bool = True
    protect_volume: bool = True

    @field_validator("user")
    @classmethod
    def _not_root(cls, v: str) -> str:
        if v == "root":
            raise ValueError("the app must not connect as root: name an application user")
        return v


class RedisConfig(Model):
    enabled: bool = False
    image: str = "redis:7.4"


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

    mode: Literal["off", "files", "acme"] = "off"
    domains: list[Domain] = []
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    certificate: str | None = None  # PEM chain, leaf first (public: not required to be secret)
    key: SecretStr | None = None
    acme_directory: Annotated[str, StringConstraints(pattern=r"^https://\S+$")] | None = None
    ca_roots: str | None = None
    https_port: Port = 443
    hsts_seconds: Annotated[int, Field(ge=0, le=63072000)] = 31536000
    edge_image: str = "caddy:2.6"
    volume: Name | None = None

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
    runtime: Literal["fpm", "octane"] = "fpm"
    nginx_image: str = "nginx:1.27"
    host: str = "127.0.0.1"
    port: Port = 8080
    app_root: Path = "/var/www/html"
    fpm_port: Port = 9000
    octane_port: Port = 8000
    php_ini: dict[str, str] = DEFAULT_PHP_INI
    php_ini_dir: Path = "/usr/local/etc/laravel-stack/php"
    destroy_grace_seconds: Annotated[int, Field(ge=0, le=600)] = 30
    # Wait for the image's own HEALTHCHECK before the release chain touches the new container.
    wait_healthy: bool = False
    wait_timeout: Annotated[int, Field(ge=1, le=1800)] = 120
    #: swarm stacks: app tasks (at most swarm.max_per_node on one node)
    replicas: Annotated[int, Field(ge=1, le=64)] = 1
    #: swarm stacks: the app's web command (the image's CMD: a service that starts through the
    #: stack's task chain names it), e.g. [php-fpm8.2, --nodaemonize, --force-stderr]; octane:
    #: the one-engine stack's `octane:frankenphp` command when unset
    command: list[Annotated[str, StringConstraints(min_length=1)]] | None = None
    tls: TlsConfig = TlsConfig()

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

    driver_options: dict[Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.-]+$")], str]

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

    enabled: bool = False
    #: the node label MySQL and Redis are pinned to (their volumes live there)
    data_label: LabelText = "laravel-stack.data=true"
    #: app tasks on one node at most (0: no limit); a lost node's task comes back on another
    #: node only where this leaves room
    max_per_node: Annotated[int, Field(ge=0, le=64)] = 1
    #: storage/ (uploads, storage/app/public) and each build's public/: the same on every node
    storage: SharedStorageConfig | None = None
    #: how long `up` waits for a service to converge (every task running and healthy)
    converge_timeout: Annotated[int, Field(ge=30, le=3600)] = 300
    #: workers and the scheduler: time between the stop signal and SIGKILL
    stop_grace_seconds: Annotated[int, Field(ge=1, le=3600)] = 30


class QueueConfig(Model):
    enabled: bool = True
    command: list[str] = [
        "php",
        "artisan",
        "queue:work",
        "--sleep=3",
        "--tries=3",
        "--max-time=3600",
    ]
    replicas: Annotated[int, Field(ge=1, le=32)] = 1


class SchedulerConfig(Model):
    enabled: bool = True
    command: list[str] = ["php", "artisan", "schedule:work"]


class PublicInitConfig(Model):
    public_path: Path = "/var/www/html/public"
    storage_link: bool = True


class WebUserConfig(Model):
    name: Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_-]{0,31}$")] = "www-data"
    uid: Annotated[int, Field(ge=1, le=65534)] = 33
    gid: Annotated[int, Field(ge=1, le=65534)] = 33


class AppConfig(Model):
    env: Annotated[str, StringConstraints(pattern=r"^[a-z]+$")] = "production"
    key: SecretStr
    debug: bool = False
    url: str | None = None
    extra_env: dict[EnvName, str] = {}

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

    name: HookName
    run: list[Annotated[str, StringConstraints(min_length=1)]] | None = None
    script: Path | None = None
    timeout: Annotated[int, Field(ge=1, le=3600)] = 300
    as_root: bool = False
    reason: str = ""

    @model_validator(mode="after")
    def _one_command(self) -> HookConfig:
        checks.hook_command(self)
        return self

    @property
    def argv(self) -> list[str]:
        return list(self.run) if self.run is not None else [str(self.script)]


class HooksConfig(Model):
    after_ownership: list[HookConfig] = []
    before_switch: list[HookConfig] = []
    after_verify: list[HookConfig] = []

    @model_validator(mode="after")
    def _unique(self) -> HooksConfig:
        checks.hooks_unique(self, HOOK_POINTS)
        return self


class WebhookConfig(Model):
    """A webhook told of every release outcome; the URL is a Pulumi secret."""

    url: SecretStr
    format: Literal["slack", "json"] = "json"

    @field_validator("url")
    @classmethod
    def _http(cls, v: SecretStr) -> SecretStr:
        # Never echo the URL: it is the secret (a Slack incoming webhook is its own credential).
        parts = urlsplit(v.get_secret_value())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL (not shown: it is a secret)")
        return v


class ReleaseConfig(Model):
    migrate: bool = True
    # Builds of the app kept on the deploy engine (the last N released; the running one always).
    keep: Annotated[int, Field(ge=1, le=100)] = 5
    # A dump of the app database before `migrate` (default: when migrate is on), the last
    # keep_backups kept in the backups volume on the deploy engine.
    backup: bool | None = None
    keep_backups: Annotated[int, Field(ge=1, le=100)] = 5
    # `artisan down` (the app's 503 page, Retry-After, a bypass secret) from before `migrate`
    # until after `verify`: for migrations the old build cannot run against.
    maintenance: bool = False
    maintenance_secret: SecretStr | None = None
    maintenance_retry: Annotated[int, Field(ge=1, le=3600)] = 15
    hooks: HooksConfig = HooksConfig()
    notify: list[WebhookConfig] = []
    # Each post is bounded by it: a receiver that is down or hangs never holds a release.
    notify_timeout: Annotated[int, Field(ge=1, le=60)] = 10
    # Turning a step off is for proving it matters (see README); production keeps them all.
    skip: list[StepName] = []


#: the response header in which an FPM worker names the build it serves (build_from: header)
BUILD_HEADER = "X-Laravel-Stack-Build"


class HealthConfig(Model):
    path: Annotated[str, StringConstraints(pattern=r"^/\S*$")] = "/up"
    expected_status: Annotated[int, Field(ge=100, le=599)] = 200
    #: where the probe reads the served build: `header`, the stack's own (the FPM worker that
    #: answered `path` names its `config('app.build')` in X-Laravel-Stack-Build: any route, the
    #: built-in `health: '/up'` of Laravel 11+ included); `body`, the JSON field `build_field` of
    #: the app's own route (Octane, swarm stacks, and stacks that keep their route). None: header
    #: for FPM on one engine, body elsewhere.
    build_from: Literal["header", "body"] | None = None
    build_field: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.]+$")] = "build"
    retries: Annotated[int, Field(ge=1, le=120)] = 30
    interval: Annotated[float, Field(gt=0, le=60)] = 2
    timeout: Annotated[float, Field(gt=0, le=60)] = 5


class StackConfig(Model):
    name: Name = "laravel"
    image: ImageConfig
    registry: RegistryConfig | None = None
    docker: DockerConfig = DockerConfig()
    network: NetworkConfig = NetworkConfig()
    database: DatabaseConfig
    redis: RedisConfig = RedisConfig()
    web: WebConfig = WebConfig()
    queue: QueueConfig = QueueConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    public_init: PublicInitConfig = PublicInitConfig()
    web_user: WebUserConfig = WebUserConfig()
    app: AppConfig
    release: ReleaseConfig = ReleaseConfig()
    health: HealthConfig = HealthConfig()
    swarm: SwarmConfig = SwarmConfig()

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
