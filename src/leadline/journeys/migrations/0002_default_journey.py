"""The journey Leadline ships: the buyer's steps, in the buyer's words, with exit signals a
first-party site and the events API can show. Edit it in the UI, or replace it by YAML."""

from typing import Any

from django.db import migrations

STEPS: list[dict[str, Any]] = [
    {
        "name": "Noticing a problem",
        "buyer_words": "Something is costing us time or money, and I am starting to look into it.",
        "exit_signals": [
            {"name": "Read a guide", "event": "form_submitted"},
            {"name": "Looked at solutions", "event": "page_view", "path_contains": "/solutions"},
        ],
        "content_to_offer": "Guides and checklists about the problem itself, not about us.",
        "who_should_talk": "Nobody yet, unless they ask; marketing keeps them informed.",
    },
    {
        "name": "Exploring ways to solve it",
        "buyer_words": "What are the ways people solve this, and what would each cost us?",
        "exit_signals": [
            {
                "name": "Visited pricing twice",
                "event": "page_view",
                "path_contains": "/pricing",
                "count": 2,
                "within_days": 30,
            },
            {"name": "Asked to be contacted", "event": "contact_requested"},
        ],
        "content_to_offer": "Comparisons of approaches, case studies from similar companies.",
        "who_should_talk": "A rep who knows their industry, when they ask.",
    },
    {
        "name": "Comparing vendors",
        "buyer_words": "We have a shortlist; which of these fits us best, and can we trust them?",
        "exit_signals": [
            {"name": "Asked for a proposal", "event": "proposal_requested"},
            {"name": "A trial started", "event": "trial_started"},
        ],
        "content_to_offer": "A demo on their data, references, security and pricing details.",
        "who_should_talk": "The account's rep, with a solutions engineer.",
    },
    {
        "name": "Building the internal case",
        "buyer_words": "I need my colleagues, and whoever signs, to agree this is worth it.",
        "exit_signals": [
            {
                "name": "Finance joined a call",
                "event": "conversation",
                "properties": {"participant_function": "finance"},
            },
            {"name": "Asked for a contract", "event": "contract_requested"},
        ],
        "content_to_offer": "A business case they can forward, ROI figures, a rollout plan.",
        "who_should_talk": "The rep, and a manager for the people who sign.",
    },
    {
        "name": "Deciding",
        "buyer_words": "We are choosing, negotiating and getting it signed.",
        "exit_signals": [{"name": "Signed", "event": "contract_signed"}],
        "content_to_offer": "The contract, answers for legal and procurement.",
        "who_should_talk": "The rep and whoever can agree terms.",
    },
    {
        "name": "Getting value",
        "buyer_words": "We are using it, and want it to pay off.",
        "exit_signals": [],
        "content_to_offer": "Onboarding help, training, what similar customers did first.",
        "who_should_talk": "Their customer success manager, with the rep kept in the loop.",
    },
]


def create(apps: Any, schema_editor: Any) -> None:
    Journey = apps.get_model("journeys", "Journey")
    JourneyStep = apps.get_model("journeys", "JourneyStep")
    journey = Journey.objects.create(
        name="The buyer's journey",
        slug="buyers-journey",
        description="The default journey: from noticing a problem to getting value.",
        is_default=True,
    )
    JourneyStep.objects.bulk_create(
        JourneyStep(journey=journey, position=n, **step) for n, step in enumerate(STEPS, start=1)
    )


def remove(apps: Any, schema_editor: Any) -> None:
    apps.get_model("journeys", "Journey").objects.filter(slug="buyers-journey").delete()


class Migration(migrations.Migration):
    dependencies = [("journeys", "0001_initial")]

    operations = [migrations.RunPython(create, remove)]
