"""Notifier adapters: a webhook (httpx POST) and Apprise (SMS, e-mail, chat services by URL)."""

from __future__ import annotations

import httpx

from floodwall.response.outbox import Notification, NotifyError


class WebhookNotifier:
    """POSTs each message as JSON; 2xx is delivered, anything else is a retryable failure."""

    name = "webhook"

    def __init__(self, url: str, *, timeout: float = 5.0, headers: dict[str, str] | None = None,
                 client: httpx.Client | None = None) -> None:
        self.url = url
        self.timeout = timeout
        self.headers = headers or {}
        self.client = client or httpx.Client(timeout=timeout)

    def send(self, msg: Notification) -> None:
        """Deliver one message (the idempotency key rides in a header, so the receiver can drop repeats)."""
        body = {"key": msg.key, "account": msg.account, "to": msg.recipient, "subject": msg.subject, "body": msg.body}
        try:
            r = self.client.post(self.url, json=body, headers={**self.headers, "Idempotency-Key": msg.key})
        except httpx.HTTPError as exc:
            raise NotifyError(f"webhook {self.url}: {exc}") from exc
        if not 200 <= r.status_code < 300:
            raise NotifyError(f"webhook {self.url}: HTTP {r.status_code}")


class AppriseNotifier:
    """Sends through Apprise (https://github.com/caronc/apprise): one or more service URLs (sms, mailto, ...)."""

    name = "apprise"

    def __init__(self, urls: list[str]) -> None:
        import apprise

        self.apprise = apprise.Apprise()
        for u in urls:
            if not self.apprise.add(u):
                raise ValueError(f"apprise does not understand the URL {u!r}")

    def send(self, msg: Notification) -> None:
        """Deliver one message to every configured service; any failure is a retryable error."""
        ok = self.apprise.notify(title=msg.subject, body=f"{msg.body}\n\n(ref {msg.key})")
        if not ok:
            raise NotifyError("apprise: at least one service did not accept the message")


class RecordingNotifier:
    """Keeps what it was asked to send (replays and tests); optionally fails the first tries of each message."""

    name = "recording"

    def __init__(self, fail_first: int = 0) -> None:
        self.sent: list[Notification] = []
        self.fail_first = fail_first
        self.tries: dict[str, int] = {}

    def send(self, msg: Notification) -> None:
        """Record the message, or fail it while it has had fewer than `fail_first` tries."""
        n = self.tries[msg.key] = self.tries.get(msg.key, 0) + 1
        if n <= self.fail_first:
            raise NotifyError(f"simulated failure {n} of {self.fail_first}")
        self.sent.append(msg)


class FlakyNotifier:
    """Wraps a notifier and fails a share of tries at random (seeded): a gateway's transient errors in replays."""

    def __init__(self, inner, fail_rate: float, seed: int = 0) -> None:
        import random

        self.inner = inner
        self.name = f"flaky({inner.name})"
        self.fail_rate = fail_rate
        self.rng = random.Random(seed)
        self.failures = 0

    def send(self, msg: Notification) -> None:
        """Fail with probability `fail_rate`, else hand the message on."""
        if self.rng.random() < self.fail_rate:
            self.failures += 1
            raise NotifyError("simulated transient gateway error")
        self.inner.send(msg)
