from __future__ import annotations

import pytest

from leadline.core.models import Account, Person
from tests import factories


@pytest.fixture
def acme() -> tuple[Account, Person, Person]:
    """An account with two people: Ann (finance systems) and Vera (the CFO)."""
    account = factories.account(name="Acme Widgets")
    ann = factories.person(first_name="Ann", last_name="Lee", title="Head of Finance Systems")
    vera = factories.person(first_name="Vera", last_name="Stone", title="CFO")
    for person in (ann, vera):
        factories.membership(person=person, account=account)
    return account, ann, vera
