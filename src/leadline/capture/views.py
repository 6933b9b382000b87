"""Public pages around capture: the hosted form, the thank-you page, downloads and the embed."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import signing
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.html import escape
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

from leadline.capture.ingest import (
    RENDERED_FIELD,
    THANKS_SALT,
    fill_token,
    form_submit,
    new_idempotency_key,
    thanks_submission_id,
)
from leadline.capture.models import PERSON_FIELDS, Form, Submission
from leadline.capture.services import asset_download_record
from leadline.capture.validation import HONEYPOT_FIELD, KEY_FIELD
from leadline.core.links import own_origins, public_script, public_url
from leadline.core.permissions import public
from leadline.core.ratelimit import client_ip


def field_specs(form: Form) -> list[dict[str, Any]]:
    """The form's fields with labels and types filled in from the known person fields."""
    specs = []
    for field in form.fields:
        known = PERSON_FIELDS.get(field["name"], {})
        specs.append(
            {
                "name": field["name"],
                "label": field.get("label") or known.get("label") or field["name"],
                "type": field.get("type") or known.get("type", "text"),
                "required": bool(field.get("required")) or field["name"] == "email",
                "options": field.get("options") or known.get("options") or [],
                "help": field.get("help", ""),
            }
        )
    return specs


def embed_snippet(request: HttpRequest, form: Form) -> str:
    """The tag a marketer pastes into any page to show the form there.

    Plain text (not marked safe): pages show it as code, escaped like any other text.
    """
    src = public_url(request, reverse("capture:embed"))
    return f'<script src="{escape(src)}" data-form="{escape(form.slug)}" async></script>'


def form_schema(form: Form) -> dict[str, Any]:
    return {
        "slug": form.slug,
        "title": form.title,
        "intro": form.intro,
        "fields": field_specs(form),
        "contact_box": form.contact_box_label if form.contact_box else None,
        "consent": {"text": form.consent_text, "required": form.consent_required}
        if form.consent_text
        else None,
        "submit_label": form.submit_label,
        "honeypot": HONEYPOT_FIELD,
        "has_asset": form.asset_id is not None,
        "thank_you": {"title": form.thank_you_title, "message": form.thank_you_message},
    }


@ensure_csrf_cookie
def form_page(
    request: HttpRequest,
    slug: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    form = get_object_or_404(Form, slug=slug, is_active=True)
    values = values or dict(request.GET.items())
    context = {
        "form": form,
        "fields": [
            {
                **spec,
                "value": values.get(spec["name"]) or "",
                "error": (errors or {}).get(spec["name"]),
            }
            for spec in field_specs(form)
        ],
        "errors": errors or {},
        "values": values,
        "key": values.get(KEY_FIELD) or new_idempotency_key(),
        "key_field": KEY_FIELD,
        # Shown again after an error: the first showing's moment counts.
        "rendered": (errors and values.get(RENDERED_FIELD)) or fill_token(form.pk),
        "rendered_field": RENDERED_FIELD,
        "honeypot": HONEYPOT_FIELD,
        "tracking": {
            name: values.get(name, "")
            for name in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
        },
    }
    return render(request, "capture/form.html", context, status=status)


@public("the hosted form: anyone may fill it in (rate limit, honeypot, time-to-fill check)")
def form_endpoint(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the hosted form. POST/OPTIONS: the capture hot path."""
    if request.method == "GET":
        return form_page(request, slug)
    return form_submit(request, slug)


form_endpoint.csrf_exempt = True  # type: ignore[attr-defined]


@public("a form's fields, for the embed snippet on a customer's site: nobody's data")
@require_GET
@never_cache  # each one carries the moment it was given out (the time-to-fill check)
def form_schema_view(request: HttpRequest, slug: str) -> HttpResponse:
    """The embed's description of the form. Another site's page gets it only when the form lists
    that site (CORS for that origin, never any other); Leadline's own pages always."""
    form = Form.objects.filter(slug=slug, is_active=True).first()
    if form is None:
        return JsonResponse({"error": f"no active form {slug!r}"}, status=404)
    origin = request.headers.get("Origin", "")
    if origin and not (form.origin_allowed(origin) or origin.rstrip("/") in own_origins(request)):
        return JsonResponse({"error": f"origin {origin} may not embed this form"}, status=403)
    body = form_schema(form)
    body["submit_url"] = public_url(request, reverse("capture:form", args=[slug]))
    body["rendered"] = fill_token(form.pk)
    body["rendered_field"] = RENDERED_FIELD
    response = JsonResponse(body)
    if origin:
        response["Access-Control-Allow-Origin"] = origin
    response["Vary"] = "Origin"
    return response


@public("the thank-you page after a submission, reached by a signed token")
@require_GET
def thanks(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    try:
        submission_id = thanks_submission_id(token)
    except signing.BadSignature as exc:
        raise Http404("unknown submission") from exc
    submission = get_object_or_404(Submission.objects.select_related("form"), pk=submission_id)
    if submission.form.slug != slug:
        raise Http404("unknown submission")
    return render(
        request,
        "capture/thanks.html",
        {"form": submission.form, "token": token},
    )


@public("a gated asset's download, reached by a signed token from the thank-you page")
@require_GET
def download(request: HttpRequest, token: str) -> HttpResponseBase:
    """The gated asset, for a link that is signed and expires."""
    try:
        submission_id = int(
            signing.loads(
                token,
                salt=THANKS_SALT,
                max_age=settings.CAPTURE_DOWNLOAD_LINK_MAX_AGE,
            )
        )
    except signing.SignatureExpired:
        return render(request, "capture/expired.html", status=410)
    except signing.BadSignature as exc:
        raise Http404("unknown download") from exc
    submission = get_object_or_404(
        Submission.objects.select_related("form__asset"), pk=submission_id
    )
    asset = submission.form.asset
    if asset is None:
        raise Http404("this form has no download")
    asset_download_record(submission_id=submission.pk, asset=asset, ip=client_ip(request))
    filename = (asset.file.name or "download").rsplit("/", 1)[-1]
    return FileResponse(asset.file.open("rb"), as_attachment=True, filename=filename)


# <script src="https://LEADLINE/embed.js" data-form="SLUG" async></script>
embed_js = public("the embed script: static code, nobody's data")(public_script("capture/embed.js"))
