"""A draft's caption checked against the deal's terms before the brand approves it (pure, no I/O).

The same text rules as the live post's check (``verification.checks``): the disclosure, each required hashtag and
each required mention must be in the caption. What is missing is shown to both sides on the deal page; approving a
draft with something missing needs the brand's explicit "approve anyway", recorded on the approval event.
"""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.collaborations.terms import DeliverableTerms, Terms
from marketplace.verification.checks import has_disclosure, has_hashtag, has_mention


@dataclass(frozen=True)
class CaptionGap:
    #: "disclosure", "hashtag" or "mention".
    kind: str
    #: What the caption should carry, as the terms spell it ("#ad", "#glowlab", "@glowlab").
    text: str

    @property
    def words(self) -> str:
        what = {"disclosure": "the disclosure", "hashtag": "the hashtag", "mention": "the mention"}[self.kind]
        return f"{what} {self.text}"


def _deliverables(terms: Terms) -> list[DeliverableTerms]:
    matching = [d for d in terms.deliverables if d.platform == terms.platform]
    return list(matching or terms.deliverables)


def caption_gaps(terms: Terms, caption: str) -> list[CaptionGap]:
    """What the terms ask the caption to carry and it doesn't, in the terms' order (empty: nothing missing)."""
    gaps: list[CaptionGap] = []
    seen: set[tuple[str, str]] = set()

    def missing(kind: str, text: str) -> None:
        if (kind, text.casefold()) not in seen:
            seen.add((kind, text.casefold()))
            gaps.append(CaptionGap(kind, text))

    for d in _deliverables(terms):
        if d.disclosure_required and d.disclosure_text.strip() and not has_disclosure(caption, d.disclosure_text):
            missing("disclosure", d.disclosure_text.strip())
        for tag in d.required_hashtags:
            text = "#" + tag.strip().lstrip("#")
            if text != "#" and not has_hashtag(caption, text):
                missing("hashtag", text)
        for handle in d.required_mentions:
            text = "@" + handle.strip().lstrip("@")
            if text != "@" and not has_mention(caption, text):
                missing("mention", text)
    return gaps


def gaps_in_words(gaps: list[CaptionGap]) -> str:
    words = [g.words for g in gaps]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]
