"""Core business actions: merges refuse what would lose track of a record; API tokens."""

from __future__ import annotations

import pytest

from leadline.core.models import ApiToken
from leadline.core.services import api_token_create, api_token_user, person_merge
from tests import factories

pytestmark = pytest.mark.django_db


def test_merge_refuses_self_merged_loser_and_merged_survivor() -> None:
    a, b, c = factories.person(), factories.person(), factories.person()
    with pytest.raises(ValueError, match="into itself"):
        person_merge(survivor=a, loser=a)
    person_merge(survivor=a, loser=b)
    with pytest.raises(ValueError, match="already merged"):
        person_merge(survivor=c, loser=b)
    with pytest.raises(ValueError, match="merged into another record"):
        person_merge(survivor=b, loser=c)
    c.refresh_from_db()
    assert c.merged_into is None


def test_api_token_is_stored_hashed_and_stops_working_when_revoked() -> None:
    user = factories.user()
    token, key = api_token_create(user=user, name="zapier")
    assert key.startswith("ll_")
    assert key not in token.key_hash
    assert api_token_user(key=key) == user
    assert api_token_user(key=key + "x") is None
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=token.created_at)
    assert api_token_user(key=key) is None
