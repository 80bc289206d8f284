"""The release history: the last builds deployed, newest first, kept in the stack's own
`releases` output (read back through a reference to the stack itself on the next run)."""

from __future__ import annotations

from typing import Any

import pulumi

OUTPUT = "releases"


def next_history(previous: Any, build: str, tag: str, now: str, keep: int) -> list[dict[str, str]]:
    """`previous` (the last run's output, or None) with `build` (repository@sha256:…) in front.
    Deploying the build already in front changes nothing; an older one (a rollback) moves to
    the front with its recorded tag and the new time."""
    entries = [e for e in previous or [] if isinstance(e, dict) and isinstance(e.get("build"), str)]
    if entries and entries[0]["build"] == build:
        return entries[:keep]
    known = next((e for e in entries if e["build"] == build), None)
    entry = {
        "build": build,
        "digest": build.rsplit("@", 1)[-1],
        "tag": known["tag"] if known else tag,
        "deployed": now,
    }
    return [entry, *[e for e in entries if e["build"] != build]][: max(keep, 1)]


def previous_history(parent: pulumi.Resource) -> pulumi.Output[Any]:
    """This stack's `releases` output as the last successful `up` left it (None at first)."""
    me = pulumi.StackReference(
        f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}",
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return me.get_output(OUTPUT)
