"""The demo's outside calling team: otto works a queue of intro calls, some already logged."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from leadline.calls.models import CallTask, TaskStatus
from leadline.calls.selectors import call_queue
from leadline.core import clock
from leadline.core.models import User
from leadline.demo.calls import CALLING_TEAM, calls_demo

pytestmark = pytest.mark.django_db


def test_the_demo_gives_otto_a_calling_team_and_a_queue(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("demo_data", people=40, seed=5, until=dt.date(2026, 11, 20), stdout=StringIO())
    otto = User.objects.get(username="otto")
    assert otto.team is not None
    assert otto.team.name == CALLING_TEAM
    queue = list(call_queue(user=otto))
    assert len(queue) >= 5
    assert CallTask.objects.filter(status=TaskStatus.OPEN, source="demo", team=otto.team).exists()
    client = Client()
    client.force_login(otto)
    assert client.get(f"/calls/{queue[0].pk}/").status_code == 200
    # Run again: nothing more.
    assert calls_demo(now=clock.now()) == 0
