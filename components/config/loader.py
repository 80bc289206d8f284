"""Reading the stack's Pulumi config into the validated model tree."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from .checks import cross_checks
from .errors import ConfigError, plain_text_secrets, validation_problems
from .schema import StackConfig

NAMESPACE = "laravel-stack"


def parse(raw: Mapping[str, Any], secret_keys: Iterable[str] = ()) -> StackConfig:
    """Validate raw config (top-level key -> value, namespace stripped); raise ConfigError.

    `secret_keys` are the top-level keys Pulumi holds as secrets.
    """
    problems = plain_text_secrets(raw, set(secret_keys))
    try:
        config = StackConfig.model_validate(dict(raw))
    except ValidationError as exc:
        problems += validation_problems(exc)
        raise ConfigError(problems) from None
    problems += cross_checks(config)
    if problems:
        raise ConfigError(problems)
    return config


def decode(value: Any) -> Any:
    """Pulumi hands structured config to programs as JSON text; scalars stay strings."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def from_pulumi() -> StackConfig:
    """Read every `laravel-stack:*` key of the current stack and validate it."""
    from pulumi.runtime import config as runtime_config

    # The language host passes config in the environment, tests through set_all_config: read both.
    values = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret_keys = set(runtime_config.get_config_secret_keys_env())
    raw: dict[str, Any] = {}
    secret: set[str] = set()
    for full_key, value in values.items():
        namespace, _, key = full_key.partition(":")
        if namespace != NAMESPACE:
            continue
        raw[key] = decode(value)
        if full_key in secret_keys or runtime_config.is_config_secret(full_key):
            secret.add(key)
    return parse(raw, secret)
