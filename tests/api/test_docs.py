"""The OpenAPI document and the interactive docs, which must work on a machine with no internet."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from openapi_spec_validator import validate

PATHS = {
    "/api/v1/people",
    "/api/v1/people/{person_id}",
    "/api/v1/people/{person_id}/timeline",
    "/api/v1/people/{person_id}/merge",
    "/api/v1/accounts",
    "/api/v1/accounts/{account_id}",
    "/api/v1/accounts/{account_id}/timeline",
    "/api/v1/accounts/{account_id}/merge",
    "/api/v1/requests",
    "/api/v1/requests/{request_id}",
    "/api/v1/submissions",
    "/api/v1/submissions/{submission_id}",
    "/api/v1/forms",
    "/api/v1/forms/{slug}",
    "/api/v1/forms/{slug}/submissions",
    "/api/v1/events",
    "/api/v1/conversations",
    "/api/v1/people/{person_id}/conversations",
    "/api/v1/pain-points",
    "/api/v1/pain-points/{pain_point_id}",
    "/api/v1/pain-point-suggestions/{suggestion_id}/decision",
}
# Engagement: handoffs, lifecycle, the lead-quality report.
PATHS |= {
    "/api/v1/handoffs",
    "/api/v1/handoffs/{handoff_id}",
    "/api/v1/handoffs/{handoff_id}/accept",
    "/api/v1/handoffs/{handoff_id}/reject",
    "/api/v1/rejection-reasons",
    "/api/v1/opportunities/{opportunity_id}/close",
    "/api/v1/people/{person_id}/lifecycle",
    "/api/v1/reports/lead-quality",
}
# Booking: pages, their free slots, meetings.
PATHS |= {
    "/api/v1/booking/pages",
    "/api/v1/booking/pages/{slug}/slots",
    "/api/v1/booking/meetings",
    "/api/v1/booking/meetings/{meeting_id}/cancel",
}
# Outreach: the contact-pressure limit, do-not-contact, unsubscribes, marketing emails.
PATHS |= {
    "/api/v1/contact-policy",
    "/api/v1/people/{person_id}/contact",
    "/api/v1/people/{person_id}/contact-check",
    "/api/v1/people/{person_id}/unsubscribe",
    "/api/v1/do-not-contact",
    "/api/v1/do-not-contact/{person_id}/{channel}",
    "/api/v1/newsletters",
    "/api/v1/newsletters/{newsletter_id}",
    "/api/v1/newsletters/{newsletter_id}/preview",
    "/api/v1/newsletters/{newsletter_id}/send",
}
# Cadences and their enrolments.
PATHS |= {
    "/api/v1/cadences",
    "/api/v1/cadences/{cadence_id}",
    "/api/v1/cadences/{cadence_id}/enrolments",
    "/api/v1/cadences/{cadence_id}/enrolments/bulk",
    "/api/v1/enrolments",
    "/api/v1/enrolments/stop",
    "/api/v1/enrolments/{enrolment_id}",
    "/api/v1/enrolments/{enrolment_id}/stop",
}
# Calls: the caller's queue.
PATHS |= {"/api/v1/calls", "/api/v1/calls/{task_id}", "/api/v1/calls/{task_id}/outcome"}
# Commitments: promises made to prospects.
PATHS |= {
    "/api/v1/commitments",
    "/api/v1/commitments/report",
    "/api/v1/commitments/{commitment_id}",
    "/api/v1/commitments/{commitment_id}/cancel",
    "/api/v1/commitments/{commitment_id}/kept",
}
# Prediction: the models, their fits and refits, and people's and accounts' chances.
PATHS |= {
    "/api/v1/insight/models",
    "/api/v1/insight/models/{model_id}",
    "/api/v1/insight/models/{model_id}/refit",
    "/api/v1/insight/models/{model_id}/fields",
    "/api/v1/insight/fits/{fit_id}",
    "/api/v1/insight/predictions",
}
# Imports: CSV files brought in, their progress and row errors.
PATHS |= {"/api/v1/imports", "/api/v1/imports/{job_id}", "/api/v1/imports/{job_id}/errors"}
# Transitions: what moves buyers on, and what makes deals win.
PATHS |= {
    "/api/v1/insight/journeys",
    "/api/v1/insight/journeys/{journey_id}/transitions",
    "/api/v1/insight/journeys/winning/drivers",
}
# Attribution and campaigns.
PATHS |= {
    "/api/v1/insight/attribution",
    "/api/v1/campaigns",
    "/api/v1/campaigns/{campaign_id}",
}
# Privacy: consent with its proof, export, erasure, and who saw or changed whom.
PATHS |= {
    "/api/v1/privacy/access-log",
    "/api/v1/privacy/people/{person_id}/consents",
    "/api/v1/privacy/people/{person_id}/erase",
    "/api/v1/privacy/people/{person_id}/export",
}
# Capacity: each seller's active relationships against their cap.
PATHS |= {"/api/v1/relationships/load", "/api/v1/relationships/load/{user_id}"}
# Handover: plan, review, change and apply who takes over from a seller who leaves or moves.
PATHS |= {
    "/api/v1/handovers",
    "/api/v1/handovers/{plan_id}",
    "/api/v1/handovers/{plan_id}/items/{item_id}",
    "/api/v1/handovers/{plan_id}/apply",
    "/api/v1/handovers/{plan_id}/cancel",
}
# Relationship health: the figures of each relationship and the going-cold list.
PATHS |= {"/api/v1/relationships/health"}
# Goals: targets on the reports' metrics, their progress, pace and forecast.
PATHS |= {"/api/v1/goals", "/api/v1/goals/metrics", "/api/v1/goals/{goal_id}"}
# The prospect's view and what each channel and team achieves; a meeting held or not.
PATHS |= {
    "/api/v1/insight/ratings",
    "/api/v1/insight/channels",
    "/api/v1/booking/meetings/{meeting_id}/outcome",
}


@pytest.mark.django_db
def test_the_openapi_document_is_valid_and_lists_every_resource(client: Client) -> None:
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    spec = response.json()
    validate(spec)
    assert set(spec["paths"]) == PATHS
    schemes = spec["components"]["securitySchemes"]
    assert {"type": "http", "scheme": "bearer"} in schemes.values()
    # Typed fields, not bags of anything.
    person = spec["components"]["schemas"]["PersonOut"]["properties"]
    assert person["created_at"]["format"] == "date-time"
    assert person["emails"]["type"] == "array"
    # Every operation says it can refuse.
    for operations in spec["paths"].values():
        for operation in operations.values():
            assert {"401", "403"} <= set(operation["responses"])


@pytest.mark.django_db
def test_the_docs_page_loads_everything_from_our_own_server(client: Client) -> None:
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    html = response.content.decode()
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", html), "nothing from another host"
    assert "validator.swagger.io" not in html
    assert '"validatorUrl": null' in html
    assets = re.findall(r"(?:src|href)=\"(/static/[^\"]+)\"", html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset
        body = b"".join(served.streaming_content) if served.streaming else served.content
        served.close()
        assert body
