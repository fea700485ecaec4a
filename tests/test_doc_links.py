"""Every relative link in the README and docs/ reaches a file, and its #anchor a heading."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces to -."""
    return {
        re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in page.read_text().splitlines()
        if line.startswith("#")
    }


def broken_links() -> list[str]:
    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for link in LINK.findall(page.read_text()):
            if link.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = link.partition("#")
            target = (page.parent / path).resolve() if path else page
            where = f"{page.relative_to(ROOT)}: {link}"
            if not target.exists():
                broken.append(where)
            elif anchor and target.suffix == ".md" and anchor not in anchors(target):
                broken.append(where + " (no such heading)")
    return broken


def test_every_link_in_the_docs_resolves():
    assert broken_links() == []


def test_a_heading_anchor_is_githubs():
    page = ROOT / "docs" / "cluster.md"
    assert "try-a-cluster-on-one-machine-sigecve-lab" in anchors(page)
