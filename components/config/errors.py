"""Config errors as the user reads them: one line per problem, each naming its key path."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from .schema import SECRET_FIELDS


class ConfigError(Exception):
    """Invalid stack config; `problems` holds one line per problem, each naming its key path."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid stack config:\n" + "\n".join(f"  {p}" for p in problems))


def _loc(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(err: Any) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    return msg.removeprefix("Value error, ")


def validation_problems(exc: ValidationError) -> list[str]:
    """pydantic's errors as `key.path[0].name: message` lines."""
    return [f"{_loc(err['loc']) or '(top level)'}: {_message(err)}" for err in exc.errors()]


def _at(value: Any, parts: list[str], path: str) -> Iterable[tuple[str, Any]]:
    """(key path, value) of each value at `parts` (`name[]`: every element of a list)."""
    if not parts:
        yield path, value
        return
    part, rest = parts[0], parts[1:]
    key = part.removesuffix("[]")
    value = value.get(key) if isinstance(value, Mapping) else None
    if part.endswith("[]"):
        for i, item in enumerate(value if isinstance(value, list) else []):
            yield from _at(item, rest, f"{path}.{key}[{i}]")
    else:
        yield from _at(value, rest, f"{path}.{key}")


def plain_text_secrets(raw: Mapping[str, Any], secret_keys: set[str]) -> list[str]:
    """A line for each secret field given whose top-level key is not a Pulumi secret."""
    problems = []
    for top, field in SECRET_FIELDS:
        for path, value in _at(raw.get(top), field.split("."), top):
            if value is not None and top not in secret_keys:
                problems.append(
                    f"{path}: given in plain text; set it with "
                    f"`pulumi config set --secret --path {path} <value>`"
                )
    return problems
