"""Run the real program (`__main__.py`) under Pulumi mocks and record what it registers.

`RecordingMonitor` wraps `MockMonitor.RegisterResource`, so tests see the explicit
dependencies the SDK actually sends to the engine, not what the code meant to send.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks, settings

from components.commands import Engine
from components.core import preflight

ROOT = Path(__file__).resolve().parents[2]
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
APP_KEY = "base64:" + "A" * 43 + "="


def valid_config() -> dict[str, Any]:
    """A complete, valid config (plain dicts); secret fields need their keys in `SECRET_KEYS`."""
    return {
        "name": "shop",
        "image": {"repository": "registry.example.com/acme/shop", "tag": "2026.11.25-1"},
        "registry": {"server": "registry.example.com", "username": "deploy", "password": "reg-pw"},
        "database": {"password": "db-pw-123", "root_password": "root-pw-456"},
        "app": {"key": APP_KEY},
    }


SECRET_KEYS = ("registry", "database", "app", "release")


def fake_digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Registration:
    type: str
    name: str
    urn: str
    parent: str
    dependencies: list[str]
    inputs: dict[str, Any]  # as sent, secrets still wrapped
    protect: bool = False
    delete_before_replace: bool | None = None
    retain_on_delete: bool = False
    additional_secret_outputs: list[str] = field(default_factory=list)
    provider: str = ""  # "<provider urn>::<id>", as sent
    ignore_changes: list[str] = field(default_factory=list)


def _contains_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return any(v == SECRET_SIG for v in value.values()) or any(
            _contains_secret(v) for v in value.values()
        )
    if isinstance(value, list):
        return any(_contains_secret(v) for v in value)
    return False


@dataclass
class Run:
    registrations: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    preflights: list[str] = field(default_factory=list)  # engines the program checked

    def of_type(self, suffix: str) -> list[Registration]:
        return [r for r in self.registrations if r.type.endswith(suffix)]

    def one(self, type_suffix: str, name: str) -> Registration:
        found = [r for r in self.of_type(type_suffix) if r.name == name]
        assert len(found) == 1, f"{type_suffix} {name}: {len(found)} registered"
        return found[0]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.registrations if r.urn == urn)

    @staticmethod
    def is_secret(reg: Registration, key: str) -> bool:
        return _contains_secret(reg.inputs.get(key))

    @staticmethod
    def plain(value: Any) -> Any:
        """Unwrap secret envelopes for assertions on values."""
        if isinstance(value, dict):
            if value.get("4dabf18193072939515e22adb298388d") == SECRET_SIG:
                return Run.plain(value.get("value"))
            return {k: Run.plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [Run.plain(v) for v in value]
        return value

    def value(self, reg: Registration, key: str) -> Any:
        return self.plain(reg.inputs.get(key))

    def line(self, reg: Registration) -> str:
        """A command's command line (a release step's: what release_step.py runs)."""
        return str(self.value(reg, "create"))

    def context(self, reg: Registration) -> dict[str, Any]:
        """What release_step.py, a release step's interpreter, is told about it."""
        words = self.value(reg, "interpreter")
        assert words[:2] == ["python3", "components/scripts/release_step.py"], words
        assert words[3:] == ["--"], words
        return json.loads(words[2])


class Recorder(pulumi.runtime.Mocks):
    """Plays the providers: deterministic ids and outputs derived from the inputs."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        state = dict(args.inputs)
        if args.typ == "docker:index/image:Image":
            repo = state["imageName"].rsplit(":", 1)[0]
            state["repoDigest"] = f"{repo}@{fake_digest(state['imageName'])}"
        elif args.typ == "docker:index/remoteImage:RemoteImage":
            state["imageId"] = fake_digest("id:" + state["name"])
            state["repoDigest"] = state["name"]
        elif args.typ == "docker:index/container:Container" and not state.get("name"):
            # Pulumi auto-naming: logical name plus a random suffix (fixed here).
            state["name"] = f"{args.name}-{fake_digest(args.name)[7:14]}"
        elif args.typ == "command:local:Command":
            state["stdout"] = f"{args.name}: ok"
            state["stderr"] = ""
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "docker:index/getNetwork:getNetwork":
            return {"id": "net-" + args.args["name"], "name": args.args["name"], "driver": "bridge"}
        return {}


class RecordingMonitor(mocks.MockMonitor):
    def __init__(self, recorder: Recorder, run: Run):
        super().__init__(recorder)
        self.run = run

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.run.registrations.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    inputs=json_format.MessageToDict(request.object),
                    protect=request.protect,
                    delete_before_replace=request.deleteBeforeReplace
                    if request.deleteBeforeReplaceDefined
                    else None,
                    retain_on_delete=request.retainOnDelete,
                    additional_secret_outputs=list(request.additionalSecretOutputs),
                    provider=request.provider,
                    ignore_changes=list(request.ignoreChanges),
                )
            )
        return response


def run_program(
    raw: dict[str, Any],
    secret_keys: tuple[str, ...] | list[str] = SECRET_KEYS,
    run: Run | None = None,
) -> Run:
    """Run `__main__.py` with `raw` as the stack's `laravel-stack:*` config.

    Pass `run` to keep what was registered even when the program raises.
    """
    config = {
        f"laravel-stack:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()
    }
    runtime_config.set_all_config(config, [f"laravel-stack:{k}" for k in secret_keys])
    run = run if run is not None else Run()
    recorder = Recorder()
    settings.ROOT.set(None)
    pulumi.runtime.set_mocks(
        recorder,
        project="laravel-stack",
        stack="test",
        preview=False,
        monitor=RecordingMonitor(recorder, run),
    )

    # No ssh under mocks: record the ssh engines the program has checked.
    def check(engine: Engine, timeout: float = 30) -> None:
        if engine.is_ssh:
            run.preflights.append(engine.host)

    real_check, preflight.check = preflight.check, check  # type: ignore[assignment]

    @pulumi.runtime.test
    def program():
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        root = settings.get_root_resource()
        exported = dict(root.outputs) if root is not None else {}  # type: ignore[attr-defined]

        async def resolve() -> None:
            for key, value in exported.items():
                out = pulumi.Output.from_input(value)
                run.outputs[key] = await out.future()
                if await out.is_secret():
                    run.secret_outputs.add(key)

        return asyncio.ensure_future(resolve())

    try:
        program()
    finally:
        preflight.check = real_check  # type: ignore[assignment]
    return run
