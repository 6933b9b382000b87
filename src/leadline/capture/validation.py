"""Checks a submission against its form. Pure functions: no database, so the hot path stays fast."""

from __future__ import annotations

import dataclasses
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django_countries import countries

from leadline.capture.models import MAX_FIELD_LENGTH, PERSON_FIELDS, origin_allowed

HONEYPOT_FIELD = "website_url"
KEY_FIELD = "_key"
TRACKING_FIELDS = (
    "page_url",
    "referrer",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "visitor_id",
)
TRUE_VALUES = {"1", "true", "on", "yes"}


@dataclasses.dataclass(frozen=True)
class FormSpec:
    """What the hot path needs to know about a form, cached in process."""

    id: int
    slug: str
    fields: list[dict[str, Any]]
    contact_box: bool
    consent_text: str
    consent_required: bool
    allowed_origins: tuple[str, ...]
    has_asset: bool

    def origin_allowed(self, origin: str) -> bool:
        return origin_allowed(self.allowed_origins, origin)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else ""
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    raise TypeError


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return isinstance(value, str | int) and str(value).strip().lower() in TRUE_VALUES


def submission_clean(spec: FormSpec, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Return (clean payload, errors by field name). Unknown keys are dropped."""
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in spec.fields:
        name = field["name"]
        kind = field.get("type") or PERSON_FIELDS.get(name, {}).get("type", "text")
        raw = data.get(name)
        if kind == "checkbox":
            clean[name] = _as_bool(raw)
            if field.get("required") and not clean[name]:
                errors[name] = "This box must be ticked."
            continue
        try:
            value = _as_text(raw)
        except TypeError:
            errors[name] = "Must be text."
            continue
        if not value:
            if field.get("required") or name == "email":
                errors[name] = "This field is required."
            continue
        if len(value) > MAX_FIELD_LENGTH:
            errors[name] = f"At most {MAX_FIELD_LENGTH} characters."
            continue
        if kind == "email":
            try:
                validate_email(value)
            except ValidationError:
                errors[name] = "Enter a valid email address."
                continue
        elif kind == "select":
            known_options = PERSON_FIELDS.get(name, {}).get("options")
            options = [str(o) for o in field.get("options") or known_options or []]
            if value not in options:
                errors[name] = f"Choose one of: {', '.join(options)}."
                continue
        elif kind == "number":
            try:
                float(value)
            except ValueError:
                errors[name] = "Enter a number."
                continue
        clean[name] = value

    if "country" in clean:
        code = _country_code(clean["country"])
        if code is None:
            errors["country"] = "Unknown country; use its name or two-letter code."
        else:
            clean["country"] = code
    if "phone" in clean:
        e164 = phone_e164(clean["phone"], region=clean.get("country"))
        if e164 is None:
            errors["phone"] = "Enter a valid phone number, with its country code (+44 …)."
        else:
            clean["phone"] = e164

    if spec.contact_box:
        clean["contact_me"] = _as_bool(data.get("contact_me"))
    if spec.consent_text:
        clean["consent"] = _as_bool(data.get("consent"))
        if spec.consent_required and not clean["consent"]:
            errors["consent"] = "Please give your consent to continue."
    for name in TRACKING_FIELDS:
        try:
            value = _as_text(data.get(name))
        except TypeError:
            errors[name] = "Must be text."
            continue
        if value:
            clean[name] = value[:1000]
    return clean, errors


def _country_code(value: str) -> str | None:
    if len(value) == 2 and value.upper() in countries:
        return value.upper()
    code = countries.by_name(value)
    return code or None


def phone_e164(value: str, *, region: str | None = None) -> str | None:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def honeypot_filled(data: dict[str, Any]) -> bool:
    return bool(data.get(HONEYPOT_FIELD))
