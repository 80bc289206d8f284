"""The chain builder: each runtime's release chain is one table of named steps in named phases
(components/engine/release.py, components/swarm/release.py); this turns a phase's steps into
pulumi-command resources, each run after the one before it and triggered by the release.

A step that fails fails `pulumi up` with its output; nothing is streamed into the logs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import pulumi
import pulumi_command as command

from ..commands import Argv
from ..config import StackConfig

T = TypeVar("T")


def always(cfg: StackConfig) -> bool:
    return True


@dataclass(frozen=True)
class Step(Generic[T]):
    """One step: its commands, made from the release's resolved values (`T`: each runtime's
    own), joined into one shell line that stops at the first failure."""

    name: str
    description: str
    argv: Callable[[T], list[Argv]]
    #: after `verify`: the new build serves (the engine's steps then re-assert the switch)
    past_verify: bool = False
    #: what re-runs it besides the phase's own triggers (names `declare` is given)
    also_triggered_by: tuple[str, ...] = ()
    #: its commands carry the app's env (a Swarm one-shot), and read `stdin` (a secret)
    with_env: bool = False
    stdin: str = ""
    #: whether the config keeps it (release.skip and the keys that turn steps off)
    when: Callable[[StackConfig], bool] = always


@dataclass(frozen=True)
class Phase(Generic[T]):
    """A named part of the chain: a component holding its steps, or (no steps) what Docker
    does between two of them, such as a Swarm service's rollout."""

    name: str
    description: str
    component: str = ""  # the type token of the component holding its steps
    steps: tuple[Step[T], ...] = ()
    #: the component's registered outputs: output name -> step whose stdout it is
    outputs: Mapping[str, str] = field(default_factory=dict)


def declare(
    parent: pulumi.Resource,
    steps: Sequence[Step[T]],
    create: Callable[[Step[T], Mapping[str, command.local.Command]], pulumi.Input[str]],
    triggers: Sequence[pulumi.Input[Any]],
    after: Sequence[pulumi.Resource],
    *,
    interpreter: Callable[[Step[T], Mapping[str, command.local.Command]], pulumi.Input[list[str]]]
    | None = None,
    stdin: Mapping[str, pulumi.Input[str]] | None = None,
    also_after: Mapping[str, Sequence[pulumi.Resource]] | None = None,
    extra_triggers: Mapping[str, pulumi.Input[Any]] | None = None,
) -> dict[str, command.local.Command]:
    """The steps as command resources, in order: each depends on the one before it (the first
    on `after`; `also_after` adds a step's own), re-runs when one of `triggers` (or of its
    `also_triggered_by` in `extra_triggers`) changes.
    `create` (and `interpreter`) make a step's command from the step and the ones declared
    before it (a later step may need an earlier one's output)."""
    out: dict[str, command.local.Command] = {}
    previous: list[pulumi.Resource] = list(after)
    for step in steps:
        resource = command.local.Command(
            step.name,
            create=create(step, out),
            interpreter=interpreter(step, out) if interpreter else None,
            stdin=(stdin or {})[step.stdin] if step.stdin else None,
            triggers=[*triggers, *((extra_triggers or {})[t] for t in step.also_triggered_by)],
            # Output is shown when a step fails; nothing is streamed into the logs.
            logging=command.local.Logging.NONE,
            opts=pulumi.ResourceOptions(
                parent=parent, depends_on=[*(also_after or {}).get(step.name, ()), *previous]
            ),
        )
        out[step.name] = resource
        previous = [resource]
    return out


class PhaseComponent(pulumi.ComponentResource):
    """A phase's steps under their component (its type token names the phase in every URN)."""

    steps: dict[str, command.local.Command]

    def __init__(
        self,
        phase: Phase[T],
        cfg: StackConfig,
        build: Callable[[PhaseComponent, list[Step[T]]], dict[str, command.local.Command]],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(phase.component, phase.name, None, opts)
        self.steps = build(self, [s for s in phase.steps if s.when(cfg)])
        self.register_outputs({k: self.steps[s].stdout for k, s in phase.outputs.items()})
