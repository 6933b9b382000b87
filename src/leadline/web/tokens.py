"""API tokens: one's own (an admin: everyone's), made with the key shown once, and revoked."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from leadline.core.models import ApiToken, TokenScope, User
from leadline.core.permissions import access_admin, access_api_tokens
from leadline.core.services import api_token_create, api_token_revoke
from leadline.web.access import page


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=120, label="What it is for", help_text="e.g. “Zapier”, “nightly export”"
    )
    scopes = forms.MultipleChoiceField(
        choices=TokenScope.choices,
        initial=[TokenScope.READ],
        widget=forms.CheckboxSelectMultiple,
        label="What it may do",
        help_text="A token never has more rights than your role.",
    )


def _visible(user: User) -> QuerySet[ApiToken]:
    tokens = ApiToken.objects.select_related("user").order_by("revoked_at", "-created_at")
    return tokens if access_admin(user) else tokens.filter(user=user)


@page(access_api_tokens)
def api_tokens(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    key = None
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            _, key = api_token_create(
                user=user, name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"]
            )
        except ValidationError as error:
            form.add_error("scopes", error)
        else:
            form = TokenForm()
    context = {
        "nav": "api_tokens",
        "form": form,
        "key": key,
        "tokens": _visible(user)[:500],
        "everyone": access_admin(user),
    }
    return render(request, "web/api_tokens.html", context, status=422 if form.errors else 200)


@require_POST
@page(access_api_tokens)
def api_token_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    token = _visible(user).filter(pk=pk).first()
    if token is None:
        raise Http404("no such token")
    api_token_revoke(token=token, actor=user)
    messages.success(request, f"Revoked “{token.name}” ({token.prefix}…). It stopped working now.")
    return redirect("web:api_tokens")
