"""Django forms behind the pages: people filters, the form builder and its field rows."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from django import forms
from django.core.validators import FileExtensionValidator

from leadline.capture.models import FIELD_TYPES, PERSON_FIELDS, Asset, Form, RequestKind
from leadline.core.models import Account
from leadline.web.queries import PeopleFilters

DAY_CHOICES = [
    ("", "Any time"),
    ("1", "Last 24 hours"),
    ("7", "Last 7 days"),
    ("30", "Last 30 days"),
    ("90", "Last 90 days"),
]
PDF_MAGIC = b"%PDF-"


class PeopleFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search people")
    kind = forms.ChoiceField(
        required=False, label="Request", choices=[("", "Any request"), *RequestKind.choices]
    )
    wants_contact = forms.BooleanField(required=False, label="Wants to be contacted")
    days = forms.TypedChoiceField(
        required=False, label="New", choices=DAY_CHOICES, coerce=int, empty_value=None
    )
    account = forms.ModelChoiceField(
        required=False,
        queryset=Account.objects.filter(merged_into__isnull=True),
        widget=forms.HiddenInput,
    )

    def filters(self) -> PeopleFilters:
        """The valid part of the filters; a bad value is dropped rather than failing the list."""
        data = self.cleaned_data if self.is_valid() else {}
        account = data.get("account")
        return PeopleFilters(
            query=data.get("q") or "",
            kind=data.get("kind") or "",
            wants_contact=bool(data.get("wants_contact")),
            days=data.get("days"),
            account_id=account.pk if account else None,
        )


def _formfield(field: Any, **kwargs: Any) -> Any:
    """Model fields to form fields; a URL typed without a scheme means https."""
    from django.db import models

    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return field.formfield(**kwargs)


class FormSettingsForm(forms.ModelForm[Form]):
    """Everything about a capture form except its fields, which come from the row editor."""

    new_asset_file = forms.FileField(
        required=False,
        label="…or upload a new PDF",
        validators=[FileExtensionValidator(["pdf"])],
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
    )
    new_asset_title = forms.CharField(
        required=False,
        max_length=200,
        label="Title of the new PDF",
        help_text="Shown on the thank-you page. Empty: taken from the file name.",
    )

    class Meta:
        model = Form
        formfield_callback = _formfield
        fields = [
            "name",
            "slug",
            "title",
            "intro",
            "request_kind",
            "asset",
            "contact_box",
            "contact_box_label",
            "consent_text",
            "consent_required",
            "submit_label",
            "thank_you_title",
            "thank_you_message",
            "thank_you_url",
            "campaign",
            "journey",
            "allowed_origins",
            "is_active",
        ]
        labels = {
            "name": "Internal name",
            "slug": "Slug",
            "title": "Heading",
            "request_kind": "What the visitor asks for",
            "asset": "Gated asset",
            "contact_box": "Offer a “please contact me” box",
            "contact_box_label": "Contact box label",
            "consent_required": "Consent is required to submit",
            "thank_you_url": "Thank-you URL",
            "is_active": "Active (accepting submissions)",
        }
        help_texts = {
            "name": "Only your team sees this.",
            "contact_box": "",
            "slug": "Letters, numbers, hyphens. The hosted page lives at /f/<slug>/.",
            "asset": "Delivered after the visitor submits.",
            "consent_text": "Shown beside a consent box. Empty: no consent box.",
            "journey": "The buyer journey a submission starts or moves.",
        }
        widgets = {
            "intro": forms.Textarea(attrs={"rows": 3}),
            "consent_text": forms.Textarea(attrs={"rows": 2}),
            "thank_you_message": forms.Textarea(attrs={"rows": 3}),
            "allowed_origins": forms.Textarea(
                attrs={"rows": 2, "placeholder": "https://www.example.com"}
            ),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        asset_field: Any = self.fields["asset"]
        asset_field.queryset = Asset.objects.order_by("-created_at")
        asset_field.empty_label = "No gated asset"

    def clean_new_asset_file(self) -> Any:
        upload = self.cleaned_data.get("new_asset_file")
        if upload:
            head = upload.read(len(PDF_MAGIC))
            upload.seek(0)
            if head != PDF_MAGIC:
                raise forms.ValidationError("This file is not a PDF.")
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("new_asset_file") and data.get("asset"):
            self.add_error(
                "new_asset_file", "Pick an existing asset or upload a new PDF, not both."
            )
        if data.get("contact_box") and not data.get("contact_box_label"):
            self.add_error("contact_box_label", "A contact box needs a label.")
        return data

    def new_asset_title_or_default(self) -> str:
        title: str = self.cleaned_data.get("new_asset_title") or ""
        upload = self.cleaned_data["new_asset_file"]
        return title or PurePath(upload.name).stem.replace("-", " ").replace("_", " ").strip()


TYPE_CHOICES = [("", "As usual"), *((t, t.capitalize()) for t in FIELD_TYPES)]


class FieldRowForm(forms.Form):
    """One question on a capture form."""

    name = forms.CharField(
        max_length=60,
        label="Field name",
        widget=forms.TextInput(attrs={"list": "person-fields", "autocomplete": "off"}),
    )
    label = forms.CharField(required=False, max_length=200, label="Label")
    type = forms.ChoiceField(required=False, choices=TYPE_CHOICES, label="Type")
    required = forms.BooleanField(required=False, label="Required")
    options = forms.CharField(
        required=False, max_length=2000, label="Options", help_text="For a select; comma-separated"
    )

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if not name.isidentifier() or name.startswith("_"):
            raise forms.ValidationError(
                f"“{name}”: use letters, digits and underscores, starting with a letter."
            )
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        name = data.get("name", "")
        kind = data.get("type") or PERSON_FIELDS.get(name, {}).get("type", "text")
        known_options = PERSON_FIELDS.get(name, {}).get("options")
        if kind == "select" and not self.option_list() and not known_options:
            self.add_error("options", f"“{name}” is a select: list its options.")
        return data

    def option_list(self) -> list[str]:
        raw = self.cleaned_data.get("options") or ""
        return [o.strip() for o in raw.replace("\n", ",").split(",") if o.strip()]

    def spec(self) -> dict[str, Any]:
        """The stored shape (see capture.models.validate_field_specs); defaults stay implicit."""
        data = self.cleaned_data
        spec: dict[str, Any] = {"name": data["name"], "required": bool(data.get("required"))}
        if data.get("label"):
            spec["label"] = data["label"]
        if data.get("type"):
            spec["type"] = data["type"]
        if self.option_list():
            spec["options"] = self.option_list()
        return spec

    @staticmethod
    def initial_for(spec: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": spec.get("name", ""),
            "label": spec.get("label", ""),
            "type": spec.get("type", ""),
            "required": bool(spec.get("required")),
            "options": ", ".join(str(o) for o in spec.get("options") or []),
        }


class BaseFieldRowFormSet(forms.BaseFormSet):  # type: ignore[type-arg]
    def kept_rows(self) -> list[FieldRowForm]:
        rows: list[FieldRowForm] = []
        for row in self.forms:
            if self.can_delete and getattr(row, "cleaned_data", {}).get("DELETE"):
                continue
            if not row.has_changed() and row.empty_permitted:
                continue
            rows.append(row)
        return rows

    def clean(self) -> None:
        if any(self.errors):
            return
        seen: dict[str, FieldRowForm] = {}
        for row in self.kept_rows():
            name = row.cleaned_data.get("name")
            if not name:
                continue
            if name in seen:
                # A row error is enough: the formset is invalid while any row is.
                row.add_error("name", f"“{name}” appears twice; each field name must be unique.")
                continue
            seen[name] = row
        if not seen:
            raise forms.ValidationError("Fields: add at least one field.")
        if "email" not in seen:
            raise forms.ValidationError(
                "Fields: every form asks for an email address; add a field named “email”."
            )

    def specs(self) -> list[dict[str, Any]]:
        return [row.spec() for row in self.kept_rows()]


FieldRowFormSet = forms.formset_factory(
    FieldRowForm, formset=BaseFieldRowFormSet, extra=1, can_delete=True, max_num=60
)
FIELD_ROWS_PREFIX = "fields"
DEFAULT_FIELDS: list[dict[str, Any]] = [
    {"name": "email", "required": True},
    {"name": "first_name", "required": True},
    {"name": "last_name"},
    {"name": "company"},
    {"name": "role_own_words"},
]


class MergeSearchForm(forms.Form):
    q = forms.CharField(max_length=200, label="Find the record to merge in")
