"""Security headers on every response (web/security.py): CSP with a fresh nonce, HSTS with
HTTPS, Permissions-Policy, COOP, nosniff, Referrer-Policy; the hosted form framable only by
its form's allowed origins."""

from __future__ import annotations

import re

import pytest
from django.http import HttpResponse
from django.test import Client
from django.test.utils import override_settings

from leadline.core.models import Role
from tests import factories

pytestmark = pytest.mark.django_db

NONCE = re.compile(r"script-src 'self' 'nonce-([A-Za-z0-9_-]+)'")


def _directives(response: HttpResponse) -> dict[str, str]:
    policy = response["Content-Security-Policy"]
    return {
        part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2] for part in policy.split(";")
    }


def _assert_headers(response: HttpResponse, what: str) -> dict[str, str]:
    for name in (
        "Content-Security-Policy",
        "Permissions-Policy",
        "Cross-Origin-Opener-Policy",
        "X-Content-Type-Options",
        "Referrer-Policy",
    ):
        assert name in response, f"{what}: no {name} header; headers: {dict(response.headers)}"
    directives = _directives(response)
    assert directives["default-src"] == "'self'", what
    assert "'unsafe-inline'" not in directives["script-src"], what
    assert "'unsafe-eval'" not in directives["script-src"], what
    assert directives["base-uri"] == "'none'", what
    assert directives["form-action"] == "'self'", what
    assert directives["img-src"] == "'self' data:", what
    assert "camera=()" in response["Permissions-Policy"], what
    assert "microphone=()" in response["Permissions-Policy"], what
    assert "geolocation=()" in response["Permissions-Policy"], what
    assert response["X-Content-Type-Options"] == "nosniff", what
    assert response["Cross-Origin-Opener-Policy"] == "same-origin", what
    assert "Strict-Transport-Security" not in response, f"{what}: HSTS without HTTPS"
    return directives


def test_a_page_has_the_headers_and_its_scripts_carry_the_nonce(client: Client) -> None:
    client.force_login(factories.user(role=Role.ADMIN))
    response = client.get("/people/")
    assert response.status_code == 200
    directives = _assert_headers(response, "people page")
    assert directives["frame-ancestors"] == "'none'"
    assert response["X-Frame-Options"] == "DENY"


def test_an_api_response_a_capture_response_and_a_404_have_them(client: Client) -> None:
    user = factories.user(role=Role.ADMIN)
    key = factories.api_key(user=user)
    api = client.get("/api/v1/people", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.status_code == 200, api.content[:300]
    _assert_headers(api, "API")

    form = factories.form()
    capture = client.post(f"/f/{form.slug}/", data=factories.submission_data())
    assert capture.status_code in {200, 201, 302, 303}, capture.content[:300]
    _assert_headers(capture, "capture post")

    missing = client.get("/no-such-page/")
    assert missing.status_code == 404
    _assert_headers(missing, "404")

    static = client.get("/static/web/app.js")
    assert static.status_code == 200
    _assert_headers(static, "static file")


def test_the_nonce_differs_per_request_and_matches_the_inline_scripts(client: Client) -> None:
    form = factories.form()
    nonces = []
    for _ in range(2):
        response = client.get(f"/f/{form.slug}/")
        assert response.status_code == 200
        found = NONCE.search(response["Content-Security-Policy"])
        assert found, response["Content-Security-Policy"]
        nonce = found[1]
        html = response.content.decode()
        inline = re.findall(r"<(script|style)(?![^>]*\bsrc=)([^>]*)>", html)
        assert inline, "the hosted form has an inline script and style"
        for tag, attributes in inline:
            assert f'nonce="{nonce}"' in attributes, f"<{tag}{attributes}> lacks nonce {nonce}"
        nonces.append(nonce)
    assert nonces[0] != nonces[1], f"the same nonce twice: {nonces}"
    assert len(nonces[0]) >= 22


def test_no_template_keeps_an_inline_handler_or_hx_on() -> None:
    from pathlib import Path

    import leadline

    root = Path(leadline.__file__).parent
    bad = re.compile(r"\bhx-on|\son[a-z]+=\"|javascript:|<script(?![^>]*\b(src|nonce)=)")
    found = [
        f"{path.relative_to(root)}:{number}"
        for path in root.glob("*/templates/**/*.html")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if bad.search(line)
    ]
    assert not found, f"inline handlers / hx-on / un-nonced scripts: {found}"


def test_hsts_only_with_https_on(client: Client) -> None:
    assert "Strict-Transport-Security" not in client.get("/login/")
    with override_settings(LEADLINE_HTTPS=True, SECURITY_HSTS_SECONDS=31536000):
        response = client.get("/login/", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000"


def test_the_hosted_form_may_be_framed_by_its_allowed_origins_only(client: Client) -> None:
    framed = factories.form(allowed_origins="https://www.customer.example\nhttps://shop.example")
    response = client.get(f"/f/{framed.slug}/")
    assert response.status_code == 200
    directives = _directives(response)
    assert directives["frame-ancestors"] == (
        "'self' https://www.customer.example https://shop.example"
    )
    assert "X-Frame-Options" not in response

    closed = factories.form()
    response = client.get(f"/f/{closed.slug}/")
    assert _directives(response)["frame-ancestors"] == "'self'"
    # A staff page stays unframable.
    assert _directives(client.get("/login/"))["frame-ancestors"] == "'none'"
