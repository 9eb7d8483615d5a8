"""Splits an article into searchable chunks by headings, then paragraphs."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
MAX_CHUNK_CHARS = 700


@dataclass(frozen=True)
class Chunk:
    position: int
    heading: str
    text: str

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def _sections(body: str) -> list[tuple[str, str]]:
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in body.splitlines():
        match = _HEADING.match(line)
        if match:
            sections.append((match.group(2).strip(), []))
        else:
            sections[-1][1].append(line)
    return [(h, "\n".join(lines).strip()) for h, lines in sections if h or "\n".join(lines).strip()]


def _pack(paragraphs: list[str]) -> list[str]:
    packed: list[str] = []
    current = ""
    for paragraph in paragraphs:
        if current and len(current) + len(paragraph) + 2 > MAX_CHUNK_CHARS:
            packed.append(current)
            current = paragraph
        else:
            current = f"{current}\n\n{paragraph}" if current else paragraph
    if current:
        packed.append(current)
    return packed


def chunk_article(title: str, body: str) -> list[Chunk]:
    """Every chunk starts with the title (and heading) so it can be matched on its own."""
    chunks: list[Chunk] = []
    for heading, text in _sections(body):
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()] or [""]
        for piece in _pack(paragraphs):
            prefix = f"{title}\n{heading}" if heading else title
            chunks.append(Chunk(position=len(chunks), heading=heading, text=f"{prefix}\n{piece}".strip()))
    return chunks or [Chunk(position=0, heading="", text=title)]
