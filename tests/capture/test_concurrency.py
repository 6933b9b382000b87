"""Capture under concurrency, against the real server and worker: nothing is lost or doubled."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests import factories
from tests.server import LiveLeadline

pytestmark = pytest.mark.server

FORM = "cfo-guide"
# The worker takes seconds; the margin covers a submission whose queueing failed, which the
# worker's sweep queues again after capture.services.STALE_AFTER (2 min) plus its 60 s interval.
PROCESSING_TIMEOUT = 240.0

# Counted inside the server's own environment, so it works on SQLite and PostgreSQL alike.
_COUNT_SCRIPT = """
import json
from leadline.capture.models import Request, Submission
from leadline.core.models import AccountDomain, PersonEmail
domain = {domain!r}
mine = Submission.objects.filter(form__slug={form!r}, payload__email__endswith="@" + domain)
print(json.dumps({{
    "submissions": mine.count(),
    "processed": mine.filter(status="processed").count(),
    "failed": mine.filter(status="failed").count(),
    "requests": Request.objects.filter(submission__in=mine).count(),
    "people": PersonEmail.objects.filter(email__endswith="@" + domain).count(),
    "accounts": AccountDomain.objects.filter(domain=domain).count(),
    "errors": sorted(set(mine.exclude(last_error="").values_list("last_error", flat=True)))[:3],
}}))
"""


def _counts(server: LiveLeadline, domain: str) -> dict[str, Any]:
    output = server.run("shell", "-c", _COUNT_SCRIPT.format(domain=domain, form=FORM)).stdout
    counts: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return counts


def _counts_when_processed(server: LiveLeadline, domain: str, expected: int) -> dict[str, Any]:
    """Counts once the worker has been through all of them (processed, or failed: a bug)."""
    deadline = time.monotonic() + PROCESSING_TIMEOUT
    counts = _counts(server, domain)
    while counts["processed"] + counts["failed"] < expected and time.monotonic() < deadline:
        time.sleep(1)
        counts = _counts(server, domain)
    return counts


@pytest.fixture(scope="module")
def schema(live_leadline: LiveLeadline) -> dict[str, Any]:
    response = httpx.get(f"{live_leadline.url}f/{FORM}/schema.json", timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _post_all(
    url: str, bodies: list[dict[str, Any]], headers: dict[str, str] | None = None
) -> list[httpx.Response]:
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=len(bodies))) as client:

        def post(body: dict[str, Any]) -> httpx.Response:
            return client.post(url, json=body, headers=headers)

        with ThreadPoolExecutor(max_workers=min(len(bodies), 50)) as pool:
            return list(pool.map(post, bodies))


def test_200_concurrent_submissions_all_land(
    live_leadline: LiveLeadline, schema: dict[str, Any]
) -> None:
    domain = f"concurrency-{uuid.uuid4().hex[:8]}.example"
    bodies = [factories.submission_for(schema, email=f"buyer{n}@{domain}", n=n) for n in range(200)]

    responses = _post_all(f"{live_leadline.url}f/{FORM}/", bodies)

    statuses = [r.status_code for r in responses]
    assert statuses == [201] * 200, [
        (r.status_code, r.text[:200]) for r in responses if r.status_code != 201
    ]
    assert len({r.json()["id"] for r in responses}) == 200
    counts = _counts_when_processed(live_leadline, domain, expected=200)
    assert counts == {
        "submissions": 200,
        "processed": 200,
        "failed": 0,
        "requests": 200,
        "people": 200,
        # One company domain: the account is made once, however many arrive together.
        "accounts": 1,
        "errors": [],
    }
    # And a marketer finds any one of them through the API.
    token = live_leadline.api_token("maria")
    found = httpx.get(
        f"{live_leadline.url}api/v1/people",
        params={"q": f"buyer137@{domain}"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert found.status_code == 200, found.text
    assert [p["email"] for p in found.json()["items"]] == [f"buyer137@{domain}"]


def test_one_submission_posted_20_times_at_once_is_stored_once(
    live_leadline: LiveLeadline, schema: dict[str, Any]
) -> None:
    domain = f"retry-{uuid.uuid4().hex[:8]}.example"
    body = factories.submission_for(schema, email=f"impatient@{domain}", n=0)

    responses = _post_all(
        f"{live_leadline.url}f/{FORM}/", [body] * 20, headers={"Idempotency-Key": uuid.uuid4().hex}
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [201], [r.text[:200] for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.json()["duplicate"] for r in responses) == 19
    counts = _counts_when_processed(live_leadline, domain, expected=1)
    assert counts == {
        "submissions": 1,
        "processed": 1,
        "failed": 0,
        "requests": 1,
        "people": 1,
        "accounts": 1,
        "errors": [],
    }
