"""Writes on people, accounts, users and the timeline. One business action per function."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from leadline.core import clock
from leadline.core.models import (
    Account,
    ApiToken,
    AuditEntry,
    Person,
    PersonSearch,
    TimelineEvent,
    TokenScope,
    User,
    token_scopes_default,
)
from leadline.core.selectors import SEARCH_CHUNK, SEARCHED_FIELDS, people_search_texts


def timeline_record(
    *,
    kind: str,
    summary: str,
    person: Person | None = None,
    account: Account | None = None,
    actor: User | None = None,
    data: dict[str, Any] | None = None,
    occurred_at: Any = None,
) -> TimelineEvent:
    event = timeline_event(
        kind=kind,
        summary=summary,
        person=person,
        account=account,
        actor=actor,
        data=data,
        occurred_at=occurred_at,
    )
    event.save()
    return event


def timeline_event(
    *,
    kind: str,
    summary: str,
    person: Person | None = None,
    account: Account | None = None,
    actor: User | None = None,
    data: dict[str, Any] | None = None,
    occurred_at: Any = None,
) -> TimelineEvent:
    """A timeline event not stored yet, for writes that store many at once (bulk_create)."""
    return TimelineEvent(
        kind=kind,
        summary=summary,
        person=person,
        account=account,
        actor=actor,
        data=data or {},
        occurred_at=occurred_at or clock.now(),
        recorded_at=clock.now(),
    )


def audit_record(
    *,
    actor: User | None,
    action: str,
    obj: models.Model,
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=actor,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        data=data or {},
    )


def _token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_create(
    *, user: User, name: str, scopes: list[str] | None = None
) -> tuple[ApiToken, str]:
    """Make a token; the plain key is returned once and never stored. Scopes default to
    read + write; unknown scopes are refused."""
    chosen = sorted(set(scopes if scopes is not None else token_scopes_default()))
    unknown = [scope for scope in chosen if scope not in TokenScope.values]
    if unknown or not chosen:
        raise ValidationError(
            f"scopes must be some of {', '.join(TokenScope.values)}; got {', '.join(unknown)}"
            if unknown
            else "choose at least one scope"
        )
    key = "ll_" + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name, scopes=chosen, prefix=key[:10], key_hash=_token_hash(key)
        )
        audit_record(
            actor=user, action="api_token.create", obj=token, data={"name": name, "scopes": chosen}
        )
    return token, key


def api_token_revoke(*, token: ApiToken, actor: User | None) -> ApiToken:
    """Stop a token working, at once (the next call with it answers 401). Revoking twice is
    harmless: the first time is kept."""
    with transaction.atomic():
        if token.revoked_at is None:
            token.revoked_at = clock.now()
            ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
                revoked_at=token.revoked_at
            )
            audit_record(
                actor=actor,
                action="api_token.revoke",
                obj=token,
                data={"name": token.name, "owner": token.user.username},
            )
    return token


def api_token_for_key(*, key: str) -> ApiToken | None:
    """The live token a bearer key is, with its active user, or None."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_token_hash(key), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = clock.now()
    # Touch at most once a minute: a write on every API call would serialise readers on SQLite.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def api_token_user(*, key: str) -> User | None:
    """The active user a bearer key belongs to, or None."""
    token = api_token_for_key(key=key)
    return token.user if token is not None else None


def inbound_relations(record: models.Model) -> list[tuple[type[models.Model], str]]:
    """(model, field name) for every kind of row, in any app, that points at `record`'s model."""
    found = []
    for rel in record._meta.related_objects:
        if not (rel.one_to_many or rel.one_to_one) or rel.related_model is type(record):
            continue
        found.append((rel.related_model, rel.field.name))
    return found


def _repoint_related(*, loser: models.Model, survivor: models.Model) -> dict[str, int]:
    """Move every row that points at `loser` to `survivor`, whatever app it belongs to.

    Rows that would break a unique constraint (the survivor already has the same membership,
    say) stay with the loser; the loser is kept, marked merged, so nothing is deleted.
    """
    moved: dict[str, int] = {}
    for related_model, field_name in inbound_relations(loser):
        rows = related_model._default_manager.filter(**{field_name: loser})
        count = 0
        for row in rows:
            try:
                with transaction.atomic():
                    related_model._default_manager.filter(pk=row.pk).update(
                        **{field_name: survivor}
                    )
                count += 1
            except IntegrityError:
                continue
        if count:
            moved[related_model._meta.label_lower] = count
    return moved


PERSON_MERGE_FILLS = (
    "first_name",
    "last_name",
    "role_own_words",
    "title",
    "cares_about",
    "personal_context",
    "preferred_channel",
    "preferred_hours",
    "time_zone",
    "country",
)
ACCOUNT_MERGE_FILLS = ("industry", "employees", "country", "website", "description")
Merged = TypeVar("Merged", Person, Account)


def _merge_into(
    *, survivor: Merged, loser: Merged, fills: tuple[str, ...]
) -> tuple[Merged, Merged, dict[str, int]]:
    """Lock both, refuse a merge that would lose track of a record, fill the survivor's blanks
    from the loser, move every row pointing at the loser, and mark it merged. Call in a
    transaction. Returns the locked survivor, the loser and what moved."""
    noun = type(survivor)._meta.verbose_name
    if survivor.pk == loser.pk:
        raise ValueError(f"cannot merge a {noun} into itself")
    manager = type(survivor)._default_manager
    survivor = manager.select_for_update().get(pk=survivor.pk)
    loser = manager.select_for_update().get(pk=loser.pk)
    if loser.merged_into_id is not None:
        raise ValueError(f"{noun} {loser.pk} was already merged")
    if survivor.merged_into_id is not None:
        raise ValueError(f"{noun} {survivor.pk} was merged into another record")
    for field in fills:
        if not getattr(survivor, field) and getattr(loser, field):
            setattr(survivor, field, getattr(loser, field))
    survivor.updated_at = clock.now()
    survivor.save()
    moved = _repoint_related(loser=loser, survivor=survivor)
    loser.merged_into = survivor
    loser.save(update_fields=["merged_into"])
    return survivor, loser, moved


def person_merge(*, survivor: Person, loser: Person, actor: User | None = None) -> Person:
    """Fold `loser` into `survivor`: every event, email, request and membership of both is kept."""
    with transaction.atomic():
        survivor, loser, moved = _merge_into(
            survivor=survivor, loser=loser, fills=PERSON_MERGE_FILLS
        )
        people_search_refresh(person_ids=[survivor.pk, loser.pk])
        timeline_record(
            kind="person.merged",
            summary=f"Merged {loser} (#{loser.pk}) into this record",
            person=survivor,
            actor=actor,
            data={"loser_id": loser.pk, "moved": moved},
        )
    return survivor


def account_merge(*, survivor: Account, loser: Account, actor: User | None = None) -> Account:
    """Fold `loser` into `survivor`, keeping every domain, membership and event of both."""
    with transaction.atomic():
        survivor, loser, moved = _merge_into(
            survivor=survivor, loser=loser, fills=ACCOUNT_MERGE_FILLS
        )
        if loser.culture_notes and loser.culture_notes != survivor.culture_notes:
            # How each company decides is hard-won knowledge: keep both accounts' notes.
            survivor.culture_notes = "\n\n".join(
                n for n in (survivor.culture_notes, loser.culture_notes) if n
            )
            survivor.save(update_fields=["culture_notes"])
        # The loser's members now belong to the survivor: they are found by its name.
        people_search_refresh(person_ids=survivor.memberships.values_list("person_id", flat=True))
        timeline_record(
            kind="account.merged",
            summary=f"Merged {loser.name} (#{loser.pk}) into this account",
            account=survivor,
            actor=actor,
            data={"loser_id": loser.pk, "moved": moved},
        )
    return survivor


def people_search_refresh(*, person_ids: Iterable[int]) -> None:
    """Rewrite these people's search text (`PersonSearch`) from what is stored now. Every write
    that changes a name, title, own words, an address, a membership or the name of a member's
    company calls it in its transaction: search reads nothing else."""
    ids = sorted(set(person_ids))
    for start in range(0, len(ids), SEARCH_CHUNK):
        texts = people_search_texts(ids[start : start + SEARCH_CHUNK])
        PersonSearch.objects.bulk_create(
            [PersonSearch(person_id=pk, text=text) for pk, text in texts.items()],
            update_conflicts=True,
            unique_fields=["person"],
            update_fields=["text"],
        )


def person_update(*, person: Person, changes: dict[str, Any], actor: User | None) -> Person:
    """Change what we know about a person by hand; their timeline says who changed what."""
    editable = {
        "first_name",
        "last_name",
        "role_own_words",
        "title",
        "cares_about",
        "personal_context",
        "preferred_channel",
        "preferred_hours",
        "time_zone",
        "country",
    }
    if unknown := set(changes) - editable:
        raise ValueError(f"cannot change {', '.join(sorted(unknown))} this way")
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        if person.merged_into_id is not None:
            raise ValueError(
                f"person {person.pk} was merged into {person.merged_into_id}; change that record"
            )
        before = {name: getattr(person, name) for name in changes}
        changed = {name: value for name, value in changes.items() if before[name] != value}
        if not changed:
            return person
        for name, value in changed.items():
            setattr(person, name, value)
        # Only what changes is checked: older rows (imports) must not block a correction.
        person.full_clean(
            exclude=[f.name for f in Person._meta.concrete_fields if f.name not in changed],
            validate_unique=False,
        )
        person.updated_at = clock.now()
        person.save(update_fields=[*changed, "updated_at"])
        if set(SEARCHED_FIELDS) & set(changed):
            people_search_refresh(person_ids=[person.pk])
        labels = [str(getattr(Person._meta.get_field(n), "verbose_name", n)) for n in changed]
        timeline_record(
            kind="person.updated",
            summary=f"Changed {', '.join(labels)}",
            person=person,
            actor=actor,
            data={"changes": {n: {"from": before[n], "to": v} for n, v in changed.items()}},
        )
    return person
