"""Conformance with the upstream plugins: what they record for this program, as test vectors.

The vectors (`vectors/upstream.json`) were recorded by running the e2e scenarios on the upstream
docker and command plugins (`scripts/record-conformance DIR`). Every other run deploys the same
scenarios and compares, field by field, what its plugins recorded: a difference fails with its
field path. Compared are the (resource, operation) pairs of each scenario's preview, and the whole
state of each resource the program declares, its providers too: its id, every input (with the
defaults the provider adds) and every output, the bridge's fields (`__meta`,
`__pulumi_raw_state_delta`) included.
What one set of plugins records, the other must read as its own, or its next preview replaces it.

Values that differ from run to run are masked: digests, ids, random name suffixes, timestamps, IP
and MAC addresses, secrets' ciphertext, the temporary project directory, a command's stdout and
stderr (compared for being there). Not masked: what only depends on the content, the image's
`build.contextDigest` (the hash of the build context: a different one is a rebuild of every
release on the other plugins).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).parent / "vectors" / "upstream.json"
#: set by scripts/record-conformance: the run writes the vectors instead of comparing
RECORD = os.environ.get("LARAVEL_STACK_RECORD_VECTORS") == "1"

#: outputs compared only for being present (their values are the run's own)
PRESENT_ONLY = {"stdout", "stderr"}
#: a command's id: its name and 8 random hex digits (upstream's resource.NewUniqueHex)
COMMAND_ID = re.compile(r"[0-9a-f]{8}$")
#: resource types whose state is compared (the rest are components or engine bookkeeping)
COMPARED_TYPES = re.compile(r"^(docker:|command:|pulumi:providers:(docker|command)$)")

#: the upstream schema's set-typed fields: their order in state is the provider's hash order
SET_FIELDS = {"labels", "volumes", "networksAdvanced", "uploads", "envs", "hosts", "ulimits",
              "aliases", "capabilities", "securityOpts", "groupAdds", "dns", "dnsOpts",
              "dnsSearches", "ipamConfigs",
              # docker.Service's (kreuzwerker docker_service)
              "mounts", "configs", "secrets", "constraints", "networksAdvanceds", "prefs",
              "platforms"}  # fmt: skip

_MASKS: list[tuple[re.Pattern[str], str]] = [
    # certificates and keys the TLS suite makes for each run
    (re.compile(r"-----BEGIN ([A-Z ]+)-----[\s\S]*?-----END \1-----\n?"), "<pem \\1>"),
    (re.compile(r"sha256:[0-9a-f]{64}"), "sha256:<digest>"),
    # a provider resource's id
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<id>"),
    # a Swarm object's id (service, config, secret, network): 25 of [a-z0-9]
    (re.compile(r"\b[a-z0-9]{25}\b"), "<swarm-id>"),
    # a build's directory of the public volume, and of its backups: its digest, 16 hex
    (re.compile(r"\b[0-9a-f]{16}\b"), "<build-dir>"),
    (re.compile(r"\b[0-9a-f]{12}\b"), "<short-id>"),
    # Pulumi's auto-names: <resource name>-<7 hex>
    (re.compile(r"(?<=-)[0-9a-f]{7}\b"), "<rand>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"), "<time>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b(?!:\d)"), "<ip>"),
    (re.compile(r"\b(?:[0-9a-f]{2}:){5}[0-9a-f]{2}\b"), "<mac>"),
]


def mask(value: Any, project: str) -> Any:
    if isinstance(value, dict):
        if value.get("4dabf18193072939515e22adb298388d") == "1b47061264138c4ac30d75fd1eb44270":
            return "<secret>"  # a secret, as `stack export` writes it (ciphertext varies)
        return {k: mask(v, project) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, project) for v in value]
    if isinstance(value, str):
        text = value.replace(project, "<project>")
        for pattern, repl in _MASKS:
            text = pattern.sub(repl, text)
        return text
    return value


def sort_sets(value: Any) -> Any:
    """Set-typed lists sorted (by their JSON), recursively: order is not part of a set."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = sort_sets(v)
            if k in SET_FIELDS and isinstance(v, list):
                v = sorted(v, key=lambda e: json.dumps(e, sort_keys=True))
            out[k] = v
        return out
    if isinstance(value, list):
        return [sort_sets(v) for v in value]
    return value


def resource_key(urn: str) -> str:
    """`type::name`, without the stack, project and parents (unique in this program)."""
    rtype = urn.split("::")[2].split("$")[-1]
    return f"{rtype}::{urn.split('::')[-1]}"


def _release_context(values: dict[str, Any]) -> None:
    """A release step's interpreter carries the release's receipt, made of stdout (the probe's
    attempt count, a certificate's dates): compared for being there, as stdout is."""
    words = values.get("interpreter")
    if not (
        isinstance(words, list) and len(words) == 4 and str(words[1]).endswith("release_step.py")
    ):
        return
    ctx = json.loads(words[2])
    if "receipt" in ctx:
        ctx["receipt"] = "<present>"
    values["interpreter"] = [*words[:2], json.dumps(ctx, sort_keys=True), words[3]]


def normalize_state(exported: dict[str, Any], project: str) -> dict[str, Any]:
    """`pulumi stack export` -> {resource key: {inputs, outputs}}, masked and filtered."""
    out: dict[str, Any] = {}
    for res in exported["deployment"].get("resources", []):
        if not COMPARED_TYPES.match(res["type"]) or res.get("custom") is not True:
            continue
        inputs = dict(res.get("inputs", {}))
        kept = dict(res.get("outputs", {}))
        _release_context(inputs)
        _release_context(kept)
        for k in PRESENT_ONLY & kept.keys():
            kept[k] = "<present>"
        rid = res.get("id", "")
        if res["type"].startswith("command:"):
            rid = COMMAND_ID.sub("<hex8>", rid)
        key = resource_key(res["urn"])
        if res.get("delete"):
            key += " (pending delete)"
        masked = mask({"id": rid, "inputs": inputs, "outputs": kept}, project)
        for side, values in (("inputs", inputs), ("outputs", kept)):
            build = values.get("build")
            if isinstance(build, dict) and "contextDigest" in build:
                masked[side]["build"]["contextDigest"] = build["contextDigest"]
        out[key] = sort_sets(masked)
    return out


def preview_ops(preview: dict[str, Any]) -> list[list[str]]:
    """`pulumi preview --json` -> sorted [resource key, op] of every step but `same`."""
    ops = {
        (resource_key(s["urn"]), s["op"])
        for s in preview.get("steps", [])
        if s["op"] != "same" and not s["urn"].split("::")[2].startswith("pulumi:providers:")
    }
    return [list(p) for p in sorted(ops)]


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        items: dict[str, Any] = {}
        for k, v in value.items():
            items.update(flatten(v, f"{path}.{k}" if path else k))
        return items or {path: {}}
    if isinstance(value, list):
        items = {}
        for i, v in enumerate(value):
            items.update(flatten(v, f"{path}[{i}]"))
        return items or {path: []}
    return {path: value}


def differences(expected: Any, actual: Any) -> list[str]:
    """One line per field path whose value differs (or exists on one side only)."""
    want, got = flatten(expected), flatten(actual)
    lines = []
    for path in sorted(want.keys() | got.keys()):
        if path not in got:
            lines.append(f"{path}: upstream {want[path]!r}, here missing")
        elif path not in want:
            lines.append(f"{path}: upstream missing, here {got[path]!r}")
        elif want[path] != got[path]:
            lines.append(f"{path}: upstream {want[path]!r}, here {got[path]!r}")
    return lines


class Vectors:
    """Record (upstream run) or compare (any other run) one scenario's observation at a time."""

    def __init__(self) -> None:
        self.recorded: dict[str, Any] = {}
        self.expected: dict[str, Any] = (
            {} if RECORD else json.loads(VECTORS.read_text()) if VECTORS.exists() else {}
        )

    def check(self, name: str, observed: Any) -> None:
        if RECORD:
            self.recorded[name] = observed
            return
        assert name in self.expected, f"no upstream vector {name!r} in {VECTORS}"
        diff = differences(self.expected[name], observed)
        assert not diff, f"{name}: differs from the upstream plugins:\n" + "\n".join(diff)

    def save(self) -> None:
        if RECORD and self.recorded:
            VECTORS.parent.mkdir(parents=True, exist_ok=True)
            # The suites run side by side (scripts/test), each saving its own scenarios.
            with open(VECTORS.with_suffix(".lock"), "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                merged = {**(json.loads(VECTORS.read_text()) if VECTORS.exists() else {})}
                merged.update(self.recorded)
                VECTORS.write_text(json.dumps(merged, indent=1, sort_keys=True) + "\n")
