"""The in-app inbox: unread counts, marking read (only your own), and the same news by mail."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from leadline.core.models import Role
from leadline.core.services import person_merge
from leadline.notify import services
from leadline.notify.models import InboxItem, OutgoingMail, SendStatus
from leadline.notify.selectors import inbox_items, inbox_unread_count
from tests import factories
from tests.smtp import SmtpServer

pytestmark = pytest.mark.django_db


def test_unread_counts_and_marking_read_only_touch_your_own_items() -> None:
    ann = factories.user(username="ann")
    bob = factories.user(username="bob")
    first, second, third = (
        services.inbox_notify(user=ann, kind="request.assigned", title=f"Request {n}")
        for n in (1, 2, 3)
    )
    bobs = services.inbox_notify(user=bob, kind="request.assigned", title="Request 4")
    assert (inbox_unread_count(user=ann), inbox_unread_count(user=bob)) == (3, 1)

    # Bob's item among the ids is not Ann's to mark.
    assert services.inbox_mark_read(user=ann, item_ids=[first.pk, bobs.pk]) == 1
    assert (inbox_unread_count(user=ann), inbox_unread_count(user=bob)) == (2, 1)
    assert services.inbox_mark_read(user=ann, item_ids=[first.pk]) == 0
    assert list(inbox_items(user=ann, unread_only=True)) == [third, second]
    assert list(inbox_items(user=ann)) == [third, second, first]
    assert list(inbox_items(user=bob)) == [bobs]
    read_at = InboxItem.objects.get(pk=first.pk).read_at
    assert read_at is not None
    services.inbox_mark_read(user=ann, item_ids=[first.pk, second.pk])
    assert InboxItem.objects.get(pk=first.pk).read_at == read_at


def test_a_notification_goes_to_the_inbox_and_by_mail(
    smtp_server: SmtpServer,
    run_worker: Any,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.PUBLIC_URL = "https://leads.seller.example"
    manager = factories.user(role=Role.SALES_MANAGER, username="mia")
    person = factories.person(first_name="Ann")
    with django_capture_on_commit_callbacks(execute=True):
        item = services.notify_user(
            user=manager,
            kind="escalation.breach",
            title="Ann's request passed its first-touch deadline",
            body="Nobody has contacted Ann yet.",
            link="/requests/42/",
            person=person,
            subject_ref="request:42",
        )
    assert (item.user, item.person, item.subject_ref) == (manager, person, "request:42")
    assert inbox_unread_count(user=manager) == 1
    run_worker()

    [message] = smtp_server.messages
    assert message["To"] == "mia@seller.example"
    assert message["Subject"] == "Ann's request passed its first-touch deadline"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Nobody has contacted Ann yet." in text
    assert "https://leads.seller.example/requests/42/" in text
    mail = OutgoingMail.objects.get()
    assert (mail.user, mail.person, mail.reason, mail.subject_ref, mail.status) == (
        manager,
        None,  # about Ann, not to her: it is no touch
        "escalation.breach",
        "request:42",
        SendStatus.SENT,
    )


def test_no_mail_when_not_wanted_or_nowhere_to_send_it() -> None:
    with_address = factories.user()
    without_address = factories.user(username="noaddress")
    without_address.email = ""
    without_address.save()
    gone = factories.user(is_active=False)
    services.notify_user(user=with_address, kind="k", title="Inbox only", by_mail=False)
    services.notify_user(user=without_address, kind="k", title="No address")
    services.notify_user(user=gone, kind="k", title="Deactivated")
    assert InboxItem.objects.count() == 3
    assert not OutgoingMail.objects.exists()


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [("title", {"title": " "}), ("kind", {"kind": ""}), ("title", {"title": "x" * 201})],
)
def test_a_bad_notification_is_refused_naming_the_field(field: str, kwargs: dict[str, Any]) -> None:
    user = factories.user()
    with pytest.raises(ValidationError) as refused:
        services.notify_user(**{"user": user, "kind": "k", "title": "Hello", **kwargs})
    assert field in refused.value.message_dict
    assert not InboxItem.objects.exists()
    assert not OutgoingMail.objects.exists()


def test_merging_people_keeps_their_notifications_and_mail() -> None:
    survivor = factories.person()
    loser = factories.person()
    item = services.inbox_notify(user=factories.user(), kind="k", title="About", person=loser)
    mail = services.mail_send(
        to=["pat@buyer.example"], subject="Hi", text="Hi", reason="touch", person=loser
    )
    person_merge(survivor=survivor, loser=loser)
    item.refresh_from_db()
    mail.refresh_from_db()
    assert (item.person, mail.person) == (survivor, survivor)
