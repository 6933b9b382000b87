"""Prediction models: the questions Leadline learns to answer from the history, each fit of a
model (with its figures and the fitted model itself), and the predictions of the current fit
for every person and account.

- `PredictionModel`: one question ("Will it be won?", "Will they move on from <step> within
  30 days?") and the fields the user chose (flagged fields they insist on, fields they leave out).
- `ModelFit`: one run of the fit in the worker: its progress while it runs, then its
  cross-validated figures, the leakage guard's checks and the fitted model. One fit per model is
  current: the one predictions come from. A failed fit keeps its error and changes nothing else.
- `Prediction`: the current chance for one person or one account, with its reasons; replaced
  each time the model scores.
- `Goal`: a target on one of the reports' metrics (`insight.metrics`) for a period, with its
  owners; `GoalChange` its history (every create and edit), `GoalSnapshot` the value measured
  each day (the curve on the goal's page), `GoalDigest` the weekly mail sent to one owner.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from leadline.core import clock
from leadline.core.models import Account, Person, Team, User
from leadline.journeys.models import JourneyStep

DEFAULT_HORIZON_DAYS = 30


class Question(models.TextChoices):
    WIN = "win", "Will it be won?"
    NEXT_STEP = "next_step", "Will they move to the next step?"


class PredictionModel(models.Model):
    """What a model predicts, and which fields it may use."""

    name = models.CharField(max_length=200)
    question = models.CharField(max_length=20, choices=Question.choices)
    # The step they are at, for "next_step" (its journey and position follow from it).
    step = models.ForeignKey(
        JourneyStep, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    horizon_days = models.PositiveIntegerField(
        default=DEFAULT_HORIZON_DAYS, help_text="For next step: moving on within this many days"
    )
    # Flagged by the leakage guard, but the user says they are known in time: used anyway.
    included_fields: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    # Left out by the user, flagged or not.
    excluded_fields: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=clock.now)
    updated_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["question", "step__position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(question="win", step__isnull=True)
                | Q(question="next_step", step__isnull=False),
                name="prediction_model_step_for_next_step",
            ),
            models.UniqueConstraint(
                fields=["question"], condition=Q(question="win"), name="prediction_model_one_win"
            ),
            models.UniqueConstraint(
                fields=["step", "horizon_days"],
                condition=Q(question="next_step"),
                name="prediction_model_one_per_step",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class FitStatus(models.TextChoices):
    QUEUED = "queued", "Waiting for the worker"
    RUNNING = "running", "Fitting"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ModelFit(models.Model):
    """One fit of a model, run by the worker."""

    model = models.ForeignKey(PredictionModel, on_delete=models.CASCADE, related_name="fits")
    status = models.CharField(max_length=10, choices=FitStatus.choices, default=FitStatus.QUEUED)
    progress = models.FloatField(default=0.0, help_text="Share done, 0 to 1")
    stage = models.CharField(max_length=120, blank=True, help_text="What it is doing now")
    # Each stage as it was reached: [{"stage": ..., "share": ..., "at": ISO time}], oldest first.
    stages: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    requested_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    queued_at = models.DateTimeField(default=clock.now)
    started_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life")
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # Which model won the cross-validation ("gradient boosting" / "logistic regression").
    kind = models.CharField(max_length=40, blank=True)
    # auc, brier, auc_gradient_boosting, auc_logistic, folds, n, positives (prediction.Fitted).
    metrics: models.JSONField[Any] = models.JSONField(default=dict, blank=True)
    # [[mean predicted, observed share, n], ...] per bin, out of fold.
    calibration: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    # Every field's leakage check: [{"name", "single_auc", "gain", "after_outcome", "flagged",
    # "why"}, ...] (prediction.FieldCheck).
    fields: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    used_fields: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    n = models.PositiveIntegerField(null=True, blank=True, help_text="Cases it learned from")
    positives = models.PositiveIntegerField(null=True, blank=True)
    # The data it was fitted on: cases, first and last outcome (ISO), base rate, fields used and
    # flagged, the fields the user chose at the time.
    data_summary: models.JSONField[Any] = models.JSONField(default=dict, blank=True)
    # The fitted model: a pickle of prediction.Fitted. It is only ever written by our own worker
    # and only ever loaded from our own database (never from a file or a request), so unpickling
    # it runs no code anyone else could have put there.
    fitted = models.BinaryField(null=True, blank=True)
    scored = models.PositiveIntegerField(default=0, help_text="Predictions written")
    is_current = models.BooleanField(default=False)

    class Meta:
        ordering = ["-queued_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["model"], condition=Q(is_current=True), name="model_fit_one_current"
            ),
            # One fit at a time per model.
            models.UniqueConstraint(
                fields=["model"],
                condition=Q(status__in=["queued", "running"]),
                name="model_fit_one_running",
            ),
            models.CheckConstraint(
                condition=Q(progress__gte=0) & Q(progress__lte=1), name="model_fit_progress_share"
            ),
            models.CheckConstraint(
                condition=Q(is_current=False) | Q(status="done"), name="model_fit_current_is_done"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model}: fit #{self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in (FitStatus.QUEUED, FitStatus.RUNNING)


class Prediction(models.Model):
    """A person's or an account's chance, from a model's current fit, with its reasons:
    [{"field", "value", "effect", "words"}, ...], strongest first."""

    model = models.ForeignKey(PredictionModel, on_delete=models.CASCADE, related_name="+")
    fit = models.ForeignKey(ModelFit, on_delete=models.CASCADE, related_name="predictions")
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    probability = models.FloatField()
    reasons: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    scored_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(person__isnull=False, account__isnull=True)
                | Q(person__isnull=True, account__isnull=False),
                name="prediction_person_or_account",
            ),
            models.UniqueConstraint(
                fields=["model", "person"],
                condition=Q(person__isnull=False),
                name="prediction_one_per_person",
            ),
            models.UniqueConstraint(
                fields=["model", "account"],
                condition=Q(account__isnull=False),
                name="prediction_one_per_account",
            ),
            models.CheckConstraint(
                condition=Q(probability__gte=0) & Q(probability__lte=1),
                name="prediction_probability_share",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model}: {self.probability:.0%}"


class SnapshotStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Computing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ReportSnapshot(models.Model):
    """A report computed by the worker from the whole history, for pages too big to compute
    while someone waits (decision 15): one row per report and choice of its parameters.

    `result` is the report as the full computation returned it, as of `computed_at` (the
    moment the computation read the clock); a refresh keeps it until the new one is done.
    `status`, `stage` and `progress` say how the newest refresh is going.
    """

    report = models.CharField(max_length=40)
    key = models.CharField(max_length=300)  # the parameters, in a canonical text form
    params = models.JSONField(default=dict)
    status = models.CharField(
        max_length=10, choices=SnapshotStatus.choices, default=SnapshotStatus.QUEUED
    )
    stage = models.CharField(max_length=200, blank=True)
    progress = models.FloatField(default=0.0)
    requested_at = models.DateTimeField(default=clock.now)
    started_at = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    took_s = models.FloatField(null=True, blank=True)
    result = models.BinaryField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report", "key"], name="insight_snapshot_report_key")
        ]

    def __str__(self) -> str:
        return f"{self.report} {self.key}"


# Goals --------------------------------------------------------------------------------------------


class PeriodKind(models.TextChoices):
    MONTH = "month", "Month"
    QUARTER = "quarter", "Quarter"
    YEAR = "year", "Year"
    CUSTOM = "custom", "Custom dates"


class Goal(models.Model):
    """A target on one metric (`insight.metrics.METRICS` key), optionally for one team, over a
    period of whole days: `starts_on` to `ends_on`, both included, in the company's time zone
    (settings.TIME_ZONE). Archived goals stay, with their history, out of the lists."""

    name = models.CharField(max_length=200)
    metric = models.CharField(max_length=60)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    target = models.DecimalField(max_digits=14, decimal_places=2)
    period_kind = models.CharField(max_length=10, choices=PeriodKind.choices)
    starts_on = models.DateField()
    ends_on = models.DateField()
    owners = models.ManyToManyField(User, related_name="goals", blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=clock.now)
    updated_at = models.DateTimeField(default=clock.now)
    archived = models.BooleanField(default=False)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_on", "name", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(target__gte=0), name="goal_target_not_negative"),
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="goal_ends_after_start"
            ),
        ]
        indexes = [models.Index(fields=["archived", "ends_on"], name="goal_current")]

    def __str__(self) -> str:
        return self.name


class GoalChange(models.Model):
    """One create, edit, archive or restore of a goal: who, when, and the fields before and
    after ({"target": "120.00", "owners": ["maria"], ...}; only the fields that changed)."""

    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="changes")
    action = models.CharField(max_length=20)  # created, edited, archived, restored
    by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(default=clock.now)
    before: models.JSONField[Any] = models.JSONField(default=dict, blank=True)
    after: models.JSONField[Any] = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.goal}: {self.action} at {self.at:%Y-%m-%d %H:%M}"


class GoalSnapshot(models.Model):
    """The goal's value as measured on one day (from the period's start to that moment); None
    when the metric had nothing to measure (a share with no decided request)."""

    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="snapshots")
    on = models.DateField()
    value = models.FloatField(null=True, blank=True)
    measured_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["goal", "on"]
        constraints = [
            models.UniqueConstraint(fields=["goal", "on"], name="goal_snapshot_one_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.goal} on {self.on}: {self.value}"


class GoalDigest(models.Model):
    """The weekly goals mail to one owner: at most one per ISO week (`week` is its Monday)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    week = models.DateField()
    sent_at = models.DateTimeField(default=clock.now)
    # What it said: [{"goal": id, "value": ..., "target": ..., "pace": "..."}, ...]
    goals: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    mail_id = models.BigIntegerField(null=True, blank=True, help_text="notify.OutgoingMail id")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "week"], name="goal_digest_one_per_week")
        ]

    def __str__(self) -> str:
        return f"Goals digest for {self.user} in the week of {self.week}"
