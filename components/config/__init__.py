"""Stack configuration: one pydantic model tree, validated before any resource exists.

Every key lives in the `laravel-stack` config namespace (`laravel-stack:<key>`), structured
keys are objects (`pulumi config set --path database.user app`). Secrets are given with
`pulumi config set --secret --path <key> <value>`; a secret field whose top-level key is not
a Pulumi secret is rejected, so a password can never sit in plain text in `Pulumi.<stack>.yaml`.

By subject: `schema` (the models: every key with its description), `checks` (the rules that
span keys), `errors` (problems named by key path), `loader` (Pulumi config -> model) and
`reference` (docs/configuration-reference.md, rendered from the schema).
"""

from .checks import (
    NODE_LOCAL,
    SHARED_DRIVERS,
    cross_checks,
    known_hosts_name,
    swarm_checks,
    swarm_warnings,
    tls_checks,
)
from .errors import ConfigError
from .loader import NAMESPACE, decode, from_pulumi, parse
from .schema import (
    BUILD_HEADER,
    DEFAULT_PHP_INI,
    HOOK_POINTS,
    KNOWN_HOSTS_LINE,
    SECRET_FIELDS,
    STEP_NAMES,
    AppConfig,
    DatabaseConfig,
    DockerConfig,
    HealthConfig,
    HookConfig,
    HooksConfig,
    ImageConfig,
    Model,
    NetworkConfig,
    PublicInitConfig,
    QueueConfig,
    RedisConfig,
    RegistryConfig,
    ReleaseConfig,
    SchedulerConfig,
    SharedStorageConfig,
    StackConfig,
    StepName,
    SwarmConfig,
    TlsConfig,
    WebConfig,
    WebhookConfig,
    WebUserConfig,
)

__all__ = [
    "BUILD_HEADER",
    "DEFAULT_PHP_INI",
    "HOOK_POINTS",
    "KNOWN_HOSTS_LINE",
    "NAMESPACE",
    "NODE_LOCAL",
    "SECRET_FIELDS",
    "SHARED_DRIVERS",
    "STEP_NAMES",
    "AppConfig",
    "ConfigError",
    "DatabaseConfig",
    "DockerConfig",
    "HealthConfig",
    "HookConfig",
    "HooksConfig",
    "ImageConfig",
    "Model",
    "NetworkConfig",
    "PublicInitConfig",
    "QueueConfig",
    "RedisConfig",
    "RegistryConfig",
    "ReleaseConfig",
    "SchedulerConfig",
    "SharedStorageConfig",
    "StackConfig",
    "StepName",
    "SwarmConfig",
    "TlsConfig",
    "WebConfig",
    "WebUserConfig",
    "WebhookConfig",
    "cross_checks",
    "decode",
    "from_pulumi",
    "known_hosts_name",
    "parse",
    "swarm_checks",
    "swarm_warnings",
    "tls_checks",
]
