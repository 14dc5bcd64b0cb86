"""The inbox in the Django admin: read-only deliveries, filters, search, and replay."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import URLPattern, re_path
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from ...stores.base import DeliveryStatus
from ._rows import lease_live, status_filter, store_delivery
from .conf import get_receiver
from .inbox import event_players, inbox_view
from .models import Delivery

__all__ = ["DeliveryAdmin", "DeliveryStatusFilter", "pretty_json"]

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[Delivery]
else:
    _ModelAdmin = admin.ModelAdmin

_PRE = '<pre style="white-space: pre-wrap; max-height: 40em; overflow: auto">{}</pre>'


def pretty_json(raw: bytes | str | Any) -> str:
    """Indented JSON for display; text that is not JSON is shown as it is."""
    if isinstance(raw, (bytes, bytearray, memoryview)):
        raw = bytes(raw).decode("utf-8", "replace")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return raw
    return json.dumps(raw, indent=2, ensure_ascii=False, sort_keys=False)


class DeliveryStatusFilter(admin.SimpleListFilter):
    """Filters by the status the store reports: `abandoned` is a delivery still `processing`
    after its lease ended (its worker died or could not record the outcome)."""

    title = "status"
    parameter_name = "status__exact"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        """One choice per status the store reports, `abandoned` included."""
        return [(status.value, status.value) for status in DeliveryStatus]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> QuerySet[Delivery]:
        """The deliveries with the chosen status (none for an unknown one), all without a choice."""
        value = self.value()
        if value is None:
            return queryset
        if value not in {status.value for status in DeliveryStatus}:
            none: QuerySet[Delivery] = queryset.none()
            return none
        rows: QuerySet[Delivery] = queryset.filter(
            status_filter(DeliveryStatus(value), time.time())
        )
        return rows


@admin.register(Delivery)
class DeliveryAdmin(_ModelAdmin):
    """Lists, filters and searches the inbox (`abandoned` shown and filtered as the store
    reports it); shows the raw body as indented JSON; replays failed and abandoned deliveries
    through the project's `Receiver`. Deliveries are never edited here."""

    list_display = (
        "received_at",
        "task_id",
        "stage",
        "kind",
        "reported_status",
        "attempts",
        "peer",
    )
    list_filter = (DeliveryStatusFilter, "kind")
    search_fields = ("task_id", "key")
    date_hierarchy = "received_at"
    actions = ("replay_deliveries",)
    fields = (
        "key",
        "task_id",
        "stage",
        "kind",
        "feature",
        "status",
        "attempts",
        "error",
        "peer",
        "received_at",
        "updated_at",
        "lease_until",
        "context_json",
        "players",
        "kept_files",
        "headers_json",
        "body_json",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Never: deliveries are recorded by the receiver, not typed in."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        """Never: a delivery is what arrived; replaying it is the one way to act on it."""
        return False

    def has_replay_permission(self, request: HttpRequest) -> bool:
        """Replaying needs the `change_delivery` permission."""
        return bool(request.user.has_perm("suno_hooks.change_delivery"))

    def get_urls(self) -> list[URLPattern]:
        """The model's admin URLs plus the staff-only inbox page at `inbox/`."""
        page = self.admin_site.admin_view(inbox_view)
        inbox = re_path(r"^inbox/(?P<rest>.*)$", page, name="suno_hooks_delivery_inbox")
        return [inbox, *super().get_urls()]

    @admin.display(description="event")
    def players(self, obj: Delivery) -> SafeString:
        """The event as handlers saw it: covers, players, lyrics, video, images, MIDI."""
        return event_players(store_delivery(obj))

    @admin.display(description="status", ordering="status")
    def reported_status(self, obj: Delivery) -> str:
        """The status as the store reports it: `abandoned` once a `processing` lease ended."""
        if obj.status == DeliveryStatus.PROCESSING.value and not lease_live(obj, time.time()):
            return DeliveryStatus.ABANDONED.value
        return obj.status

    @admin.display(description="kept media")
    def kept_files(self, obj: Delivery) -> SafeString:
        """The media a `MediaArchive` kept for the delivery: name, size, SHA-256, location."""
        kept = store_delivery(obj).kept
        if not kept:
            return format_html("{}", "nothing kept")
        rows = format_html_join(
            "",
            "<li><code>{}</code> {} bytes, sha256 <code>{}</code>, at <code>{}</code></li>",
            ((record.name, record.bytes, record.sha256[:16], record.location) for record in kept),
        )
        return format_html("<ul>{}</ul>", rows)

    @admin.display(description="body")
    def body_json(self, obj: Delivery) -> SafeString:
        """The raw body, indented."""
        return format_html(_PRE, pretty_json(obj.body))

    @admin.display(description="headers")
    def headers_json(self, obj: Delivery) -> SafeString:
        """The headers kept with the delivery."""
        return format_html(_PRE, pretty_json(obj.headers or {}))

    @admin.display(description="context")
    def context_json(self, obj: Delivery) -> SafeString:
        """The context carried by the callback URL's token."""
        return format_html(_PRE, pretty_json(obj.context))

    @admin.action(
        description="Replay the selected failed or abandoned deliveries", permissions=["replay"]
    )
    def replay_deliveries(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        """Run the receivers again for each selected failed or abandoned delivery (still
        `processing` after its lease ended); others are skipped."""
        replayable = Q(status=DeliveryStatus.FAILED.value) | status_filter(
            DeliveryStatus.ABANDONED, time.time()
        )
        keys = list(queryset.filter(replayable).values_list("key", flat=True))
        skipped = queryset.count() - len(keys)
        receiver = get_receiver()
        missing = 0
        for key in keys:
            try:
                receiver.replay(key)
            except KeyError:
                missing += 1
        done = Delivery.objects.filter(key__in=keys, status=DeliveryStatus.DONE.value).count()
        replayed = len(keys) - missing
        if replayed:
            self.message_user(request, *_replay_summary(replayed, done))
        if skipped:
            self.message_user(
                request, f"Skipped {skipped} that were neither failed nor abandoned.", messages.INFO
            )
        if missing:
            self.message_user(
                request,
                f"{missing} not found in the receiver's store (is SUNO_HOOKS['STORE'] django://?).",
                messages.ERROR,
            )


def _replay_summary(replayed: int, done: int) -> tuple[str, int]:
    """One message for a replay, and its level: success only when every delivery is done."""
    failed = replayed - done
    noun = "delivery" if replayed == 1 else "deliveries"
    if not failed:
        return f"Replayed {replayed} {noun}: all done.", messages.SUCCESS
    return (
        f"Replayed {replayed} {noun}: {done} done, {failed} failed again (see their error).",
        messages.WARNING,
    )
