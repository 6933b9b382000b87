"""Public pages around capture: thanks, downloads that expire, the embed script and schema."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.core import signing
from django.test import Client

from leadline.capture.models import AssetDownload, Submission
from leadline.core.models import TimelineEvent
from tests import factories

pytestmark = pytest.mark.django_db


def submit(client: Client, slug: str) -> dict[str, Any]:
    response = client.post(
        f"/f/{slug}/", data=json.dumps(factories.submission_data()), content_type="application/json"
    )
    assert response.status_code == 201
    return dict(response.json())


def test_download_serves_the_asset_and_records_it_on_the_timeline(client: Client) -> None:
    form = factories.form()
    body = submit(client, form.slug)
    # Before the worker has run: the download processes the submission itself (idempotently).
    response = client.get(body["download_url"])
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")  # type: ignore[attr-defined]
    assert "attachment" in response["Content-Disposition"]
    download = AssetDownload.objects.get()
    assert download.person is not None
    assert download.person == Submission.objects.get().person
    assert TimelineEvent.objects.filter(
        person=download.person, kind="asset.downloaded", summary__contains=form.asset.title
    ).exists()


def test_download_link_expires_and_cannot_be_forged(client: Client, settings: Any) -> None:
    form = factories.form()
    body = submit(client, form.slug)
    settings.CAPTURE_DOWNLOAD_LINK_MAX_AGE = -1
    expired = client.get(body["download_url"])
    assert expired.status_code == 410
    assert "expired" in expired.content.decode()
    settings.CAPTURE_DOWNLOAD_LINK_MAX_AGE = 3600
    forged = signing.dumps(body["id"], salt="some other purpose")
    assert client.get(f"/d/{forged}/").status_code == 404
    assert not AssetDownload.objects.exists()


def test_thanks_page_belongs_to_its_form(client: Client) -> None:
    form = factories.form(thank_you_message="We'll be in touch within the hour.")
    other = factories.form()
    body = submit(client, form.slug)
    page = client.get(body["thanks_url"])
    assert page.status_code == 200
    assert "within the hour" in page.content.decode()
    wrong = body["thanks_url"].replace(f"/f/{form.slug}/", f"/f/{other.slug}/")
    assert client.get(wrong).status_code == 404


def test_schema_describes_the_form_for_the_embed(client: Client) -> None:
    form = factories.form(allowed_origins="https://www.acme.example")
    schema = client.get(
        f"/f/{form.slug}/schema.json", headers={"Origin": "https://www.acme.example"}
    )
    assert schema.status_code == 200
    body = schema.json()
    assert [f["name"] for f in body["fields"]][:2] == ["email", "first_name"]
    assert body["fields"][0]["required"] is True
    assert body["contact_box"] == "Please have someone contact me"
    assert body["submit_url"] == f"http://testserver/f/{form.slug}/"
    assert body["honeypot"] == "website_url"
    other = client.get(f"/f/{form.slug}/schema.json", headers={"Origin": "https://evil.example"})
    assert other.status_code == 403


def test_embed_script_is_served_to_any_site(client: Client) -> None:
    response = client.get("/embed.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert b"data-form" in response.content


def test_link_age_comes_from_its_signature_not_the_row(client: Client, settings: Any) -> None:
    form = factories.form()
    body = submit(client, form.slug)
    Submission.objects.update(
        received_at=Submission.objects.get().received_at - dt.timedelta(days=30)
    )
    settings.CAPTURE_DOWNLOAD_LINK_MAX_AGE = 7 * 24 * 3600
    # The signature carries its own time; moving the row does not renew the link.
    assert client.get(body["download_url"]).status_code == 200
