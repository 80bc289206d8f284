"""docs/configuration-reference.md, rendered from the schema's fields and their descriptions.

    python -m components.config.reference           # print it
    python -m components.config.reference --write   # rewrite docs/configuration-reference.md

A unit test fails when the committed file is not what this renders.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from .schema import DEFAULT_PHP_INI, STEP_NAMES, StackConfig

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration-reference.md"
COMMAND = "python -m components.config.reference --write"

HEADER = f"""\
# Configuration reference

<!-- Generated from components/config/schema.py by
`{COMMAND}`: edit the field descriptions there, not this file. -->

All keys live in the `laravel-stack` namespace (`laravel-stack:<key>`); objects are set with
`--path`, e.g. `pulumi config set --path web.port 8080`. The whole tree is validated (pydantic)
before any resource is declared; every problem is reported on its own line with its key path,
and an unknown key is a problem too. Secret fields (type **secret**) must be Pulumi secrets
(`pulumi config set --secret --path <key> <value>`); a plain-text value is rejected, so a
password never sits in plain text in `Pulumi.<stack>.yaml`.

Key paths are dotted; `[]` stands for every item of a list (`release.notify[].url`). A default
of "none" means the key is unset; the description says what the stack does then. Rules that
span keys (a key required or refused because of another) are given in the keys' descriptions
and reported against the key to change.
"""

FOOTER = """\
## Production php.ini defaults

`web.php_ini` is merged over these (from the field notes: OPcache never re-reads files, so the
release chain's `opcache-reset` step is what makes new code visible):

{ini}

## Release steps

The release chain's steps in chain order (the names `release.skip` takes): {steps}.
`migrate` runs only with `release.migrate`, `backup` only with `release.backup`,
`maintenance-down` and `maintenance-up` only with `release.maintenance`, `workers-restart` only
with `queue.enabled`.

## Derived environment of every app container

`APP_ENV`, `APP_DEBUG`, `APP_KEY` (secret), `APP_BUILD` (`repository@sha256:…`, the `image`
output; `build_id` is the bare digest), `APP_URL`, `DB_CONNECTION=mysql`, `DB_HOST` (the MySQL
container), `DB_PORT`, `DB_DATABASE`, `DB_USERNAME`, `DB_PASSWORD` (secret), `REDIS_*` when
enabled, `PHP_INI_SCAN_DIR`, and `app.extra_env`.
"""


@dataclass(frozen=True)
class Key:
    path: str
    type: str
    default: str
    description: str


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """The type an annotation holds (`None` allowed or not) and its constraints."""
    metadata: list[Any] = []
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *extra = get_args(annotation)
            metadata += extra
        elif origin in (Union, types.UnionType) and type(None) in get_args(annotation):
            [annotation] = [a for a in get_args(annotation) if a is not type(None)]
        else:
            return annotation, metadata


def _bounds(metadata: Sequence[Any]) -> str:
    found: dict[str, Any] = {}
    for m in metadata:
        for item in m.metadata if isinstance(m, FieldInfo) else [m]:
            for op in ("ge", "gt", "le", "lt"):
                if getattr(item, op, None) is not None:
                    found[op] = getattr(item, op)
    if "ge" in found and "le" in found:
        return f" {found['ge']}\u2013{found['le']}"
    signs = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
    return "".join(f"{',' if i else ''} {signs[op]} {v}" for i, (op, v) in enumerate(found.items()))


def _model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, itself or as the items of a list."""
    t, _ = _unwrap(annotation)
    if get_origin(t) is list:
        t, _ = _unwrap(get_args(t)[0])
    return t if isinstance(t, type) and issubclass(t, BaseModel) else None


def type_text(annotation: Any, metadata: Sequence[Any] = ()) -> str:
    """The type column: text, integer 1-100, list of text, one of `a`, `b`, …"""
    t, more = _unwrap(annotation)
    metadata = [*metadata, *more]
    origin = get_origin(t)
    if origin is Literal:
        return "one of " + ", ".join(f"`{v}`" for v in get_args(t))
    if origin is list:
        item = type_text(get_args(t)[0])
        if item.startswith("one of "):
            return "list, each " + item
        return f"list of {'objects' if item == 'object' else item}"
    if origin is dict:
        key, value = get_args(t)
        return f"map of {type_text(key)} to {type_text(value)}"
    if t is SecretStr:
        return "**secret** text"
    if isinstance(t, type) and issubclass(t, BaseModel):
        return "object"
    names = {bool: "boolean", int: "integer", float: "number", str: "text"}
    return names[t] + _bounds(metadata)


def _yaml(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    return str(value) if value != "" else '""'


def default_text(field: FieldInfo) -> str:
    """The default column: **required**, none, or the value as YAML would give it."""
    if field.is_required():
        return "**required**"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "(its keys' defaults)"
    if value is None:
        return "none"
    if isinstance(value, dict) and value:
        return "the production defaults (below)"
    if isinstance(value, dict):
        return "`{}`"
    return f"`{_yaml(value)}`"


def key_paths(model: type[BaseModel] = StackConfig, prefix: str = "") -> Iterator[Key]:
    """Every key path of the tree, depth first in the schema's order."""
    for name, field in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        yield Key(
            path,
            type_text(field.annotation, field.metadata),
            default_text(field),
            field.description or "",
        )
        sub = _model(field.annotation)
        if sub is not None:
            is_list = get_origin(_unwrap(field.annotation)[0]) is list  # items: `key[].sub`
            yield from key_paths(sub, path + ("[]" if is_list else ""))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    """The whole page: a header, a table per top-level section, the defaults lists."""
    sections = {
        name: field
        for name, field in StackConfig.model_fields.items()
        if _model(field.annotation) is not None
    }
    everything = list(key_paths())
    out = [HEADER]
    out.append("Sections: " + ", ".join(f"[`{name}`](#{name})" for name in sections) + ".\n")
    groups = [
        ("Top level", "", [k for k in everything if "." not in k.path and k.path not in sections])
    ]
    for name, field in sections.items():
        head = field.description or ""
        if field.is_required():
            head += " Required."
        groups.append((name, head, [k for k in everything if k.path.startswith(f"{name}.")]))
    for title, head, rows in groups:
        out.append(f"## {title}\n")
        if head:
            out.append(head + "\n")
        out.append("| key | type | default | meaning |")
        out.append("| --- | --- | --- | --- |")
        for k in rows:
            cells = (f"`{k.path}`", k.type, k.default, k.description)
            out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        out.append("")
    ini = "\n".join(f"- `{k}={v}`" for k, v in DEFAULT_PHP_INI.items())
    steps = ", ".join(f"`{s}`" for s in STEP_NAMES)
    out.append(FOOTER.format(ini=ini, steps=steps))
    return "\n".join(out)


def main(argv: list[str]) -> int:
    text = render()
    if argv == ["--write"]:
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(text)
        print(f"wrote {DOC}")
    elif not argv:
        sys.stdout.write(text)
    else:
        print("usage: python -m components.config.reference [--write]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
