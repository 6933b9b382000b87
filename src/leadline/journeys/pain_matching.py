"""Which pain points to suggest for a conversation, as LEADLINE_PAIN_MATCHING says.

"phrases" (the default): the catalogue's phrases, as whole words. "semantic": those first, then
the sentence-embedding model (journeys.pain_semantic, the `leadline[nlp]` extra) for the pain
points the phrases missed. With "phrases" the model, and torch, are never imported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from leadline.journeys.models import PainPoint

MODES = ("phrases", "semantic")


def _mode() -> str:
    mode = str(getattr(settings, "PAIN_MATCHING", "phrases"))
    if mode not in MODES:
        raise ImproperlyConfigured(
            f"LEADLINE_PAIN_MATCHING: {mode!r} is not one of {', '.join(map(repr, MODES))}"
        )
    return mode


def sentences(text: str) -> list[str]:
    """The sentences (and lines) of a text, the evidence a suggestion shows."""
    return [part.strip() for part in re.split(r"(?<=[.!?])\s+|\n+", text) if part.strip()]


def pain_points_match(text: str, catalogue: Iterable[PainPoint]) -> list[tuple[PainPoint, str]]:
    """Pain points whose phrases occur in `text` (whole words, any case), each with the
    sentence that matched."""
    found = []
    said = sentences(text)
    for pain in catalogue:
        for phrase in pain.phrase_list():
            pattern = re.compile(rf"(?<!\w){re.escape(phrase.lower())}(?!\w)")
            hit = next((s for s in said if pattern.search(s.lower())), None)
            if hit is not None:
                found.append((pain, hit))
                break
    return found


def pain_points_suggest(text: str, catalogue: Iterable[PainPoint]) -> list[tuple[PainPoint, str]]:
    """Pain points `text` names, each once with its evidence sentence: phrase matches first,
    then (with LEADLINE_PAIN_MATCHING=semantic) the ones said in other words."""
    pains = list(catalogue)
    found = pain_points_match(text, pains)
    if _mode() == "phrases":
        return found
    from leadline.journeys.pain_semantic import pain_points_match_semantic

    named = [pain for pain, _ in found]
    rest = [pain for pain in pains if not any(pain == other for other in named)]
    return found + pain_points_match_semantic(text, rest)


def pain_matching_warm() -> None:
    """Load the model now rather than in the first conversation logged (about 5 s), when the
    setting asks for semantic matching; does nothing with "phrases"."""
    if _mode() == "semantic":
        from leadline.journeys.pain_semantic import model_load

        model_load()
