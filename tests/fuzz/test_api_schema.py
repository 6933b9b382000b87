"""Schemathesis against the whole JSON API and the public capture/tracking endpoints.

Every operation of /api/v1/openapi.json is called with generated (schema-valid) input by an
admin holding a bearer key, through the WSGI application in this process; and the public
endpoints, which are not in that document, through a small OpenAPI document written here
(PUBLIC). Checks: no 5xx, every status code documented, every body and header matching the
schema, the content type right. Not checked: that every schema-valid request is accepted —
the API answers 422 (documented on every operation) for rules a JSON schema cannot say,
such as "a valid email address" or "an end after the start".

It runs once, in the SQLite pass: in-process with SQLite it makes ~2,000 requests in about a
minute; PostgreSQL adds a socket round trip per query and nothing this test looks at.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections, connection
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks

from leadline.core.models import Role
from leadline.wsgi import application
from tests import factories
from tests.figures import report

# Generated requests per API operation (108 of them; 5x for the 3 public ones): ~2,300 in all.
EXAMPLES = int(os.environ.get("LEADLINE_FUZZ_EXAMPLES", "20"))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]

_ERROR = {
    "description": "refused",
    "content": {
        "application/json": {
            "schema": {"type": "object", "required": ["error"], "properties": {"error": {}}}
        }
    },
}
_FIELDS = {
    "type": "object",
    "properties": {
        "email": {"type": "string"},
        "first_name": {"type": "string"},
        "last_name": {"type": "string"},
        "company": {"type": "string"},
        "consent": {"type": "boolean"},
        "contact_me": {"type": "boolean"},
        "utm_source": {"type": "string"},
        "utm_campaign": {"type": "string"},
        "page_url": {"type": "string"},
        "_key": {"type": "string"},
    },
}
_EVENT = {
    "type": "object",
    "properties": {
        "type": {"enum": ["page_view", "click", "form_view", "identify", "custom"]},
        "url": {"type": "string"},
        "at": {"type": "string"},
        "name": {"type": "string"},
        "referrer": {"type": "string"},
    },
}
PUBLIC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Leadline public endpoints (capture, tracking)", "version": "1"},
    "paths": {
        "/f/{slug}/": {
            "post": {
                "parameters": [
                    {
                        "name": "slug",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": ["fuzz-guide", "no-such-form"]},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _FIELDS}},
                },
                "responses": {
                    "201": {"description": "stored"},
                    "200": {"description": "the same submission again"},
                    **{code: _ERROR for code in ("400", "403", "404", "413", "429", "503")},
                },
            }
        },
        "/f/{slug}/schema.json": {
            "get": {
                "parameters": [
                    {
                        "name": "slug",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": ["fuzz-guide", "no-such-form"]},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "the form's fields",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "403": _ERROR,
                    "404": _ERROR,
                },
            }
        },
        "/t/collect": {
            "post": {
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "site": {"enum": ["fuzz-site", "no-such-site"]},
                                    "visitor_id": {"type": "string"},
                                    "events": {"type": "array", "items": _EVENT},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "202": {"description": "accepted (some events may be rejected, named)"},
                    **{code: _ERROR for code in ("400", "403", "413", "429", "503")},
                },
            }
        },
    },
}


@pytest.fixture
def in_process_requests() -> Iterator[None]:
    """As Django's test client does: requests must not close the test's own connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _fuzz(
    schema: Any,
    figures: dict[str, int],
    failures: dict[str, str],
    headers: dict[str, str] | None = None,
    examples: int = EXAMPLES,
) -> None:
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(headers=headers))
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        def run(case: Any) -> None:
            figures["requests"] += 1
            response = case.call(app=application)
            figures["5xx"] += response.status_code >= 500
            case.validate_response(response, checks=CHECKS)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:
            failures[operation.label] = str(exc)[:3000]


@pytest.mark.django_db
def test_the_api_and_the_public_endpoints_hold_to_their_schemas(
    in_process_requests: None, settings: Any
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the fuzzing runs once, in the SQLite pass (faster in-process; see the module)")
    settings.CAPTURE_RATE_LIMIT = settings.CAPTURE_FORM_RATE_LIMIT = "1000000/60"
    settings.TRACKING_RATE_LIMIT = settings.TRACKING_SITE_RATE_LIMIT = "1000000/60"
    settings.CAPTURE_MIN_FILL_SECONDS = 0
    admin = factories.user(role=Role.ADMIN)
    headers = {"Authorization": f"Bearer {factories.api_key(user=admin)}"}
    # Something for the ids to find: people, an account, a form, a tracking site.
    account = factories.account()
    for n in range(3):
        factories.membership(
            person=factories.person(email=f"fuzz{n}@acme.example"), account=account
        )
    factories.form(slug="fuzz-guide")
    factories.tracking_site(key="fuzz-site")

    figures = {"requests": 0, "5xx": 0}
    failures: dict[str, str] = {}
    started = time.monotonic()
    api = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
    _fuzz(api, figures, failures, headers=headers)
    api_requests = figures["requests"]
    public = schemathesis.openapi.from_dict(PUBLIC)
    _fuzz(public, figures, failures, examples=5 * EXAMPLES)
    took = time.monotonic() - started

    summary = (
        f"schemathesis: {figures['requests']} requests ({api_requests} to the API's "
        f"{len(list(api.get_all_operations()))} operations, "
        f"{figures['requests'] - api_requests} to the public endpoints) in {took:.0f}s; "
        f"{figures['5xx']} answered 5xx; {len(failures)} operations failed a check"
    )
    report(f"[fuzz] {summary}")
    for label, text in failures.items():
        print(f"--- {label}\n{text}", file=sys.stderr)
    assert not failures, f"{summary}:\n" + "\n".join(
        f"--- {label}\n{text}" for label, text in failures.items()
    )
    assert figures["requests"] >= 2000, summary


@pytest.mark.django_db
def test_what_the_fuzzing_found_stays_fixed() -> None:
    """Each was a 500 or a body the document contradicted, before issue 9."""
    from django.test import Client

    admin = factories.user(role=Role.ADMIN)
    api = Client(headers={"Authorization": f"Bearer {factories.api_key(user=admin)}"})
    huge = 10**30  # past the databases' integers: OverflowError in the SQLite driver
    answer = api.get(f"/api/v1/relationships/load/{huge}")
    if connection.vendor == "sqlite":  # its driver refuses the number: a clear 422
        assert answer.status_code == 422, answer.content
        assert answer.json()["detail"][0]["msg"] == "a number is too large"
    else:  # PostgreSQL's backend knows no row can have it: the user is not found
        assert answer.status_code == 404, answer.content
    assert api.get(f"/api/v1/people?offset={huge}").status_code == 422
    answer = api.post(
        "/api/v1/forms/%C3%A9%09x/submissions", {"email": "a@b.example"}, "application/json"
    )
    assert answer.status_code == 404, answer.content  # not a slug: no cache key made of it
    spec = api.get("/api/v1/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert "field" in schemas["PredictionReasonOut"]["properties"]  # was a second "ReasonOut"
    assert "name" in schemas["ReasonOut"]["properties"]
    assert "JourneyStepOut" in schemas  # was a second "StepOut"
    assert schemas["PolicyOut"]["properties"]["quiet_start"]["format"] == "partial-time"
    assert "422" in spec["paths"]["/api/v1/people"]["get"]["responses"]
