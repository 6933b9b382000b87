"""The /api/v1 map: one router per domain, bearer-token or session auth on every operation."""

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Swagger

from leadline.api import (
    accounts,
    attribution,
    auth,
    booking,
    cadences,
    calls,
    campaigns,
    capture,
    commitments,
    conversations,
    effectiveness,
    engagement,
    events,
    feedback,
    goals,
    handover,
    imports,
    outreach,
    people,
    predictions,
    privacy,
    relationship_health,
    relationships,
    transitions,
)

DESCRIPTION = """
Leadline's JSON API.

**Authentication.** Send `Authorization: Bearer <key>`; make a key with
`leadline token --user NAME` (it is printed once). A logged-in browser session works too
(that is how these docs call the API); it must send the CSRF token on unsafe methods.
No credentials: 401. A role that may not do something: 403, naming the missing permission.
Tokens have scopes: `read` (GET), `write` (changes), `capture` (only form submissions); a token
without the scope a call needs gets 403 naming it. Tokens are listed, made and revoked on the
API tokens page (account menu) or with `leadline token create|list|revoke`.

**Errors.** Bad input answers 422 with `{"detail": [{"loc": [...], "msg": ...}]}`; the last
element of `loc` names the field. Unknown ids answer 404 `{"detail": ...}`.

**Lists** take `limit` (1-500, default 50) and `offset`, and answer
`{"items": [...], "count": <total>}`.

**Capturing a submission**: `POST /api/v1/forms/{slug}/submissions` with the form's fields
as JSON (and an optional `Idempotency-Key` header) runs the same checks and the same
store-first path as the hosted form, the embed snippet and the public `POST /f/<slug>/`.
"""

api = NinjaAPI(
    title="Leadline API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    auth=[auth.BearerToken(), auth.BrowserSession()],
    # The docs page loads Swagger UI from our own static files ("ninja" is an installed app);
    # the validator badge would call validator.swagger.io, so it is off.
    docs=Swagger(settings={"validatorUrl": None, "persistAuthorization": True}),
)
auth.install(api)
api.add_router("/people", people.router)
api.add_router("/privacy", privacy.router)
api.add_router("/accounts", accounts.router)
api.add_router("/requests", capture.requests_router)
api.add_router("/submissions", capture.submissions_router)
api.add_router("/forms", capture.forms_router)
api.add_router("/events", events.router)
api.add_router("/conversations", conversations.conversations_router)
api.add_router("/people", conversations.people_router)
api.add_router("/pain-points", conversations.pain_points_router)
api.add_router("/pain-point-suggestions", conversations.suggestions_router)
api.add_router("/", engagement.router)
api.add_router("/", outreach.router)
api.add_router("/", cadences.router)
api.add_router("/", calls.router)
api.add_router("/", booking.router)
api.add_router("/", commitments.router)
api.add_router("/imports", imports.router)
api.add_router("/insight/journeys", transitions.router)
api.add_router("/insight", predictions.router)
api.add_router("/insight/attribution", attribution.router)
api.add_router("/insight", effectiveness.router)
api.add_router("/campaigns", campaigns.router)
api.add_router("/insight", feedback.router)
api.add_router("/handovers", handover.router)
api.add_router("/relationships", relationships.router)
api.add_router("/relationships", relationship_health.router)
api.add_router("/goals", goals.router)


@api.exception_handler(OverflowError)
def number_out_of_range(request: HttpRequest, exc: OverflowError) -> HttpResponse:
    """An id or a number past the database's integer range (2**63 - 1): bad input, not a 500."""
    problem = {"type": "out_of_range", "loc": ["request"], "msg": "a number is too large"}
    body = {"detail": [problem]}
    return api.create_response(request, body, status=422)
