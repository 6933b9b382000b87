"""Choice lists that stay small at a company of thousands.

A form field that offers "one of this account's people" would render every member as an option:
4,000 options at the largest accounts, most of a second of template rendering and a page no one
can scan. `offer_first` keeps the field's whole queryset for validation (so any member posted is
still accepted) and renders only its first `limit` choices plus the ones already chosen.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django import forms
from django.forms.models import ModelChoiceIterator

CHOICES_SHOWN = 50


class _FirstChoices(ModelChoiceIterator):  # type: ignore[type-arg]
    limit = CHOICES_SHOWN
    keep: tuple[Any, ...] = ()

    def __iter__(self) -> Iterator[Any]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        # Read once per field: a widget may walk its choices more than once.
        shown: list[Any] | None = getattr(self.field, "_first_choices", None)
        if shown is None:
            shown = list(self.queryset[: self.limit])
            seen = {obj.pk for obj in shown}
            missing = [pk for pk in self.keep if pk not in seen]
            if missing:
                shown += list(self.queryset.filter(pk__in=missing))
            self.field._first_choices = shown  # type: ignore[attr-defined]
        for obj in shown:
            yield self.choice(obj)

    def __len__(self) -> int:
        total = getattr(self.field, "_choices_total", None)
        if total is None:
            total = self.queryset.count()
        return min(total, self.limit) + (self.field.empty_label is not None)


def offer_first(
    field: forms.Field,
    *,
    limit: int | None = None,
    keep: Iterable[Any] = (),
    total: int | None = None,
    first: Iterable[Any] | None = None,
) -> int:
    """Render only the first `limit` (CHOICES_SHOWN) choices of a model choice `field` (and
    those in `keep`, such as the ones chosen already); validation still takes any of its
    queryset. Returns how many choices there are in all; when more than shown, the field's help
    text says so. `total` and `first` (the queryset's count and its first objects, when the
    caller knows them already) save reading them again."""
    if not isinstance(field, forms.ModelChoiceField):
        raise TypeError("offer_first takes a ModelChoiceField")
    limit = CHOICES_SHOWN if limit is None else limit
    if total is None:
        total = int(field.queryset.count()) if field.queryset is not None else 0
    if total <= limit:
        return total
    kept = tuple(k for k in keep if k)
    field._choices_total = total  # type: ignore[attr-defined]
    if first is not None:
        offered = list(first)[:limit]
        seen = {obj.pk for obj in offered}
        missing = [pk for pk in kept if pk not in seen]
        if missing and field.queryset is not None:
            offered += list(field.queryset.filter(pk__in=missing))
        field._first_choices = offered  # type: ignore[attr-defined]
    iterator = type("FirstChoices", (_FirstChoices,), {"limit": limit, "keep": kept})
    field.iterator = iterator
    field.widget.choices = field.choices  # the widget took its choices before; give it these
    shown = f"The first {limit} of {total:,}, by name."
    field.help_text = f"{field.help_text} {shown}".strip() if field.help_text else shown
    return total
