"""The forms pages: the list, the builder (create, edit, errors) and the detail with its snippet."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.urls import reverse

from leadline.capture.models import Asset, Form, SubmissionStatus
from leadline.core.models import AuditEntry
from tests import factories

pytestmark = pytest.mark.django_db


def _html(response: Any) -> str:
    return str(response.content.decode())


def _rows(rows: list[dict[str, Any]], *, initial: int = 0) -> dict[str, str]:
    """The builder's field rows as the browser posts them."""
    data = {
        "fields-TOTAL_FORMS": str(len(rows)),
        "fields-INITIAL_FORMS": str(initial),
        "fields-MIN_NUM_FORMS": "0",
        "fields-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            if value is True:
                data[f"fields-{i}-{key}"] = "on"
            elif value not in (False, None):
                data[f"fields-{i}-{key}"] = str(value)
    return data


def _builder_post(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Webinar sign-up",
        "slug": "webinar-sign-up",
        "title": "Join the close-faster webinar",
        "intro": "Forty minutes, no slides.",
        "request_kind": "event",
        "asset": "",
        "contact_box": "on",
        "contact_box_label": "Have someone call me",
        "consent_text": "Send me the recording",
        "submit_label": "Save my seat",
        "thank_you_title": "See you there",
        "thank_you_message": "",
        "thank_you_url": "",
        "campaign": "Q4 webinar",
        "journey": "finance-evaluation",
        "allowed_origins": "https://www.example.com",
        "is_active": "on",
    }
    data.update(
        _rows(
            [
                {"name": "email", "required": True},
                {"name": "first_name", "label": "Your first name", "required": True},
                {"name": "role_own_words"},
                {
                    "name": "team_size",
                    "label": "How big is your team?",
                    "type": "select",
                    "options": "1-5, 6-20, 20+",
                },
                {"name": "", "label": ""},  # the blank row the page always offers
            ]
        )
    )
    data.update(overrides)
    return data


def test_forms_list(marketing_client: Client) -> None:
    form = factories.form(slug="cfo-guide")
    factories.submission(form=form)
    factories.submission(form=form)
    html = _html(marketing_client.get(reverse("web:forms")))
    assert "White paper" in html
    assert "cfo-guide" in html
    assert f'href="{reverse("web:form", args=[form.pk])}"' in html
    assert f'href="{reverse("web:form_edit", args=[form.pk])}"' in html
    assert 'href="/f/cfo-guide/"' in html
    assert '<td class="num">2</td>' in html


def test_new_form_page_offers_the_row_editor(marketing_client: Client) -> None:
    html = _html(marketing_client.get(reverse("web:form_new")))
    assert 'name="fields-0-name"' in html
    assert 'value="email"' in html
    assert 'list="person-fields"' in html
    assert '<option value="role_own_words">' in html
    assert 'hx-get="/forms/field-row/"' in html
    assert "<textarea" in html  # intro etc., but never the fields as JSON
    assert 'name="fields"' not in html


def test_builder_creates_a_form_with_its_fields(marketing_client: Client, marketer: Any) -> None:
    response = marketing_client.post(reverse("web:form_new"), _builder_post())
    assert response.status_code == 302
    form = Form.objects.get(slug="webinar-sign-up")
    assert response["Location"] == reverse("web:form", args=[form.pk])
    assert form.fields == [
        {"name": "email", "required": True},
        {"name": "first_name", "required": True, "label": "Your first name"},
        {"name": "role_own_words", "required": False},
        {
            "name": "team_size",
            "required": False,
            "label": "How big is your team?",
            "type": "select",
            "options": ["1-5", "6-20", "20+"],
        },
    ]
    assert form.request_kind == "event"
    assert form.contact_box
    assert form.contact_box_label == "Have someone call me"
    assert form.campaign == "Q4 webinar"
    assert form.journey == "finance-evaluation"
    assert form.created_by == marketer
    assert AuditEntry.objects.filter(action="form.create", object_id=str(form.pk)).exists()
    # The hosted page asks what the builder said.
    public = _html(Client().get("/f/webinar-sign-up/"))
    assert "How big is your team?" in public
    assert "Your first name" in public


def test_builder_uploads_a_new_pdf_as_the_gated_asset(marketing_client: Client) -> None:
    upload = SimpleUploadedFile(
        "close-faster.pdf", factories.MINIMAL_PDF, content_type="application/pdf"
    )
    response = marketing_client.post(
        reverse("web:form_new"), _builder_post(new_asset_file=upload, request_kind="download")
    )
    assert response.status_code == 302
    form = Form.objects.get(slug="webinar-sign-up")
    assert form.asset is not None
    assert form.asset.title == "close faster"
    assert form.asset.file.read().startswith(b"%PDF-")


def test_builder_rejects_a_file_that_is_not_a_pdf(marketing_client: Client) -> None:
    upload = SimpleUploadedFile("notes.pdf", b"just text", content_type="application/pdf")
    response = marketing_client.post(reverse("web:form_new"), _builder_post(new_asset_file=upload))
    assert response.status_code == 400
    assert "This file is not a PDF." in _html(response)
    assert not Form.objects.exists()
    assert not Asset.objects.exists()


def test_builder_picks_an_existing_asset(marketing_client: Client) -> None:
    asset = factories.asset(title="Benchmark report")
    response = marketing_client.post(reverse("web:form_new"), _builder_post(asset=str(asset.pk)))
    assert response.status_code == 302
    assert Form.objects.get(slug="webinar-sign-up").asset == asset


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            _rows([{"name": "email"}, {"name": "email"}]),
            "Field 2 name: “email” appears twice",
        ),
        (_rows([{"name": "first_name"}]), "every form asks for an email address"),
        ({"slug": "no spaces please"}, "Slug: Enter a valid “slug”"),
        ({"name": ""}, "Internal name: This field is required."),
        (_rows([{"name": "email"}, {"name": "2fast"}]), "“2fast”: use letters, digits"),
        (
            _rows([{"name": "email"}, {"name": "size", "type": "select"}]),
            "“size” is a select: list its options.",
        ),
        ({"thank_you_url": "not a url at all"}, "Thank-you URL: Enter a valid URL."),
    ],
)
def test_an_invalid_builder_post_names_the_field_and_stores_nothing(
    marketing_client: Client, overrides: dict[str, str], message: str
) -> None:
    response = marketing_client.post(reverse("web:form_new"), _builder_post(**overrides))
    assert response.status_code == 400
    html = _html(response)
    assert message in html, message
    assert "Nothing was saved" in html
    assert 'aria-invalid="true"' in html or 'id="field-rows-error"' in html
    assert not Form.objects.exists()
    assert not AuditEntry.objects.exists()


def test_builder_refuses_a_slug_already_taken(marketing_client: Client) -> None:
    factories.form(slug="webinar-sign-up")
    response = marketing_client.post(reverse("web:form_new"), _builder_post())
    assert response.status_code == 400
    assert "Slug: Form with this Slug already exists." in _html(response)
    assert Form.objects.count() == 1


def test_removed_rows_are_dropped(marketing_client: Client) -> None:
    data = _builder_post(
        **_rows([{"name": "email"}, {"name": "phone", "DELETE": True}, {"name": "company"}])
    )
    assert marketing_client.post(reverse("web:form_new"), data).status_code == 302
    names = [f["name"] for f in Form.objects.get().fields]
    assert names == ["email", "company"]


def test_editing_a_form_keeps_its_rows_and_saves_changes(marketing_client: Client) -> None:
    form = factories.form(slug="cfo-guide", with_asset=False)
    page = _html(marketing_client.get(reverse("web:form_edit", args=[form.pk])))
    assert 'value="cfo-guide"' in page
    assert 'value="role_own_words"' in page
    rows = [{"name": f["name"], "required": f.get("required", False)} for f in form.fields]
    rows.append({"name": "budget", "label": "Budget this year?"})
    data = _builder_post(
        slug="cfo-guide", name="CFO guide v2", **_rows(rows, initial=len(rows) - 1)
    )
    response = marketing_client.post(reverse("web:form_edit", args=[form.pk]), data)
    assert response.status_code == 302
    form.refresh_from_db()
    assert form.name == "CFO guide v2"
    assert form.fields[-1] == {"name": "budget", "required": False, "label": "Budget this year?"}
    assert AuditEntry.objects.filter(action="form.update", object_id=str(form.pk)).exists()


def test_add_field_without_javascript_posts_back_with_one_more_row(
    marketing_client: Client,
) -> None:
    data = _builder_post(add_field="1")
    response = marketing_client.post(reverse("web:form_new"), data)
    assert response.status_code == 200
    html = _html(response)
    assert 'name="fields-5-name"' in html
    assert 'name="fields-TOTAL_FORMS" value="6"' in html
    assert not Form.objects.exists()


def test_add_field_row_fragment_for_htmx(marketing_client: Client) -> None:
    response = marketing_client.get(
        reverse("web:form_field_row"), {"fields-TOTAL_FORMS": "4"}, headers={"HX-Request": "true"}
    )
    html = _html(response)
    assert response.status_code == 200
    assert html.lstrip().startswith("<tr")
    assert 'name="fields-4-name"' in html
    assert "Field 5: name" in html


def test_form_page_shows_the_embed_snippet_and_examples(marketing_client: Client) -> None:
    form = factories.form(slug="cfo-guide")
    done = factories.submission(form=form, status=SubmissionStatus.PROCESSED)
    done.person = factories.person(first_name="Ann", last_name="Lee")
    done.save()
    factories.submission(form=form)
    html = _html(marketing_client.get(reverse("web:form", args=[form.pk])))
    snippet = (
        "&lt;script src=&quot;http://testserver/embed.js&quot; "
        "data-form=&quot;cfo-guide&quot; async&gt;&lt;/script&gt;"
    )
    assert snippet in html
    assert "http://testserver/f/cfo-guide/" in html
    assert "curl -X POST http://testserver/f/cfo-guide/" in html
    assert "Idempotency-Key" in html
    assert 'data-copy="embed-snippet"' in html
    assert 'aria-live="polite"' in html
    assert f'href="/people/{done.person.pk}/"' in html
    assert "Processed" in html
    assert "Received" in html


@override_settings(PUBLIC_URL="https://leads.example.com")
def test_form_page_uses_the_public_url_when_set(marketing_client: Client) -> None:
    form = factories.form(slug="cfo-guide")
    html = _html(marketing_client.get(reverse("web:form", args=[form.pk])))
    assert "https://leads.example.com/embed.js" in html
    assert "testserver" not in html
