"""The ORM store's tables: the inbox of deliveries, the tasks that reached their end, and the
signatures already seen (the replay guard)."""

from __future__ import annotations

from django.db import models

from ...stores.base import DeliveryStatus
from ...stores.tasks import TaskState

__all__ = ["Delivery", "ExpectedTask", "SeenSignature", "TerminalTask"]


class Delivery(models.Model):
    """One accepted callback per dedupe key: raw body, signature headers, peer, outcome, lease."""

    STATUS_CHOICES = [(status.value, status.value) for status in DeliveryStatus]

    key = models.CharField(max_length=255, unique=True)
    task_id = models.CharField(max_length=128, db_index=True)
    stage = models.CharField(max_length=64)
    kind = models.CharField(max_length=32, db_index=True)
    feature = models.CharField(max_length=100, null=True, blank=True)
    context = models.JSONField(null=True, blank=True)
    body = models.BinaryField()
    headers = models.JSONField(default=dict, blank=True)
    peer = models.CharField(max_length=64, null=True, blank=True)
    received_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=STATUS_CHOICES, db_index=True)
    attempts = models.PositiveIntegerField(default=1)
    error = models.TextField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # The lease as POSIX seconds (no zone, no DST) and the fencing token of its owner.
    lease_expires = models.FloatField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, default="", blank=True)
    # The media a `MediaArchive` kept for the delivery: `KeptFile.to_dict()` records by name.
    kept = models.JSONField(default=list, blank=True)
    # How many times the sweeper rang the hand-off again, and when it was last rung (or
    # queued), as POSIX seconds; a row never queued has no `rung_at`.
    rings = models.PositiveIntegerField(default=0)
    rung_at = models.FloatField(null=True, blank=True)

    class Meta:
        verbose_name = "delivery"
        verbose_name_plural = "deliveries"
        ordering = ("-received_at",)
        indexes = [
            models.Index(
                fields=["received_at"],
                name="suno_hooks_handoff",
                condition=models.Q(rung_at__isnull=False, status__in=["queued", "processing"]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"


class TerminalTask(models.Model):
    """A task whose `complete` or `error` callback was claimed: later progress is stale."""

    task_id = models.CharField(max_length=128, primary_key=True)
    created_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.task_id


class SeenSignature(models.Model):
    """A `(timestamp, signature)` pair and the body it came with, until `expires_at`."""

    signature_key = models.CharField(max_length=255, primary_key=True)
    body_digest = models.CharField(max_length=128)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.signature_key


class ExpectedTask(models.Model):
    """A task submitted to the Suno API whose result is awaited: pending until a terminal
    callback or a poll settles it, or lost when the reconciler gives up."""

    STATE_CHOICES = [(state.value, state.value) for state in TaskState]

    task_id = models.CharField(max_length=128, primary_key=True)
    feature = models.CharField(max_length=100)
    context = models.JSONField(null=True, blank=True)
    submitted_at = models.DateTimeField(db_index=True)
    next_poll_at = models.DateTimeField()
    polls = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=16, choices=STATE_CHOICES, default="pending")
    settled_by = models.CharField(max_length=16, null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = "expected task"
        ordering = ("-submitted_at",)
        indexes = [models.Index(fields=["state", "next_poll_at"], name="suno_hooks_task_due")]

    def __str__(self) -> str:
        return f"{self.task_id} ({self.state})"


class TokenBinding(models.Model):
    """The task a callback URL token first served, until the token expires (`expires_at`)."""

    token_id = models.CharField(max_length=64, primary_key=True)
    task_id = models.CharField(max_length=128)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.token_id} → {self.task_id}"
