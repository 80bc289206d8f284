"""Every relative Markdown link and #anchor in README.md and docs/**/*.md resolves.

Anchors are GitHub's heading slugs. docs/configuration-reference.md is generated from the config
schema: links to it are skipped while it is absent.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]
GENERATED = ROOT / "docs" / "configuration-reference.md"
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])

LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
INLINE_CODE = re.compile(r"(`+).*?\1")


def outside_fences(text: str) -> list[str]:
    """The page's lines outside fenced code blocks."""
    out: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        m = re.match(r"\s*(`{3,}|~{3,})", line)
        if m and fence is None:
            fence = m.group(1)
        elif m and fence is not None and m.group(1).startswith(fence):
            fence = None
        elif fence is None:
            out.append(line)
    return out


def prose(text: str) -> list[str]:
    """The page's lines outside fenced code blocks, inline code blanked out."""
    return [INLINE_CODE.sub("", line) for line in outside_fences(text)]


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: its text lowercased, punctuation dropped, spaces as -."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in outside_fences(page.read_text()):
        h = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if h:
            base = slug(h.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def links(page: Path) -> list[str]:
    return [m.group(1) for line in prose(page.read_text()) for m in LINK.finditer(line)]


def test_slugs_are_githubs():
    assert slug("The documented lines: Debian's packages (`php8.X-fpm`)") == (
        "the-documented-lines-debians-packages-php8x-fpm"
    )
    assert slug("The release chain (blue/green, zero downtime)") == (
        "the-release-chain-bluegreen-zero-downtime"
    )
    assert slug("Notifications (`release.notify`)") == "notifications-releasenotify"


def test_there_are_pages_and_links():
    assert len(PAGES) > 10
    assert sum(len(links(p)) for p in PAGES) > 50


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path):
    broken = []
    for target in links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, …
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if dest == GENERATED.resolve() and not GENERATED.exists():
            continue
        if not dest.exists():
            broken.append(f"{target}: no {dest}")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {dest.relative_to(ROOT)}")
    assert not broken, "\n".join(broken)
