"""Clients that call the API the way an integration does: a bearer key in every request."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from leadline.core.models import Role, User
from tests import factories

ApiClient = Callable[[str], Client]


def bearer(user: User) -> Client:
    return Client(headers={"Authorization": f"Bearer {factories.api_key(user=user)}"})


@pytest.fixture
def api_as(db: None) -> ApiClient:
    """api_as("sales_rep") → a client holding a fresh key for a new user with that role."""

    def make(role: str) -> Client:
        return bearer(factories.user(role=role))

    return make


@pytest.fixture
def api(api_as: ApiClient) -> Client:
    """A marketer: a role that may use every operation of the API."""
    return api_as(Role.MARKETING)
