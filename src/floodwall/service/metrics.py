"""Prometheus metrics of the service, in a registry of its own (so several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


class Metrics:
    """Events in, verdicts and actions by kind, queue depths, latency histograms."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.events_in = Counter("floodwall_events_in", "Events received by ingest, by outcome", ["outcome"], registry=r)
        self.verdicts = Counter("floodwall_verdicts", "Verdicts by action and mode", ["action", "mode"], registry=r)
        self.actions = Counter("floodwall_actions", "Action orders sent, by kind", ["action"], registry=r)
        self.requests = Counter("floodwall_http_requests", "HTTP requests by route and status", ["route", "status"],
                                registry=r)
        self.queue_depth = Gauge("floodwall_queue_depth", "Items waiting, by queue", ["queue"], registry=r)
        self.batch_seconds = Histogram("floodwall_batch_seconds", "Engine time per batch", buckets=LATENCY, registry=r)
        self.batch_events = Histogram("floodwall_batch_events", "Events per engine batch",
                                      buckets=(1, 10, 100, 1000, 10_000, 100_000), registry=r)
        self.event_to_verdict = Histogram("floodwall_event_to_verdict_seconds",
                                          "From ingest accepted to its batch handled (per ingest call)",
                                          buckets=LATENCY, registry=r)
        self.gate_seconds = Histogram("floodwall_gate_seconds", "Go-live gate decision time", buckets=LATENCY,
                                      registry=r)
        self.publish_seconds = Histogram("floodwall_publish_seconds", "Time to a JetStream ack of one ingest call",
                                         buckets=LATENCY, registry=r)
        self.engine_errors = Counter("floodwall_engine_errors", "Batches the engine failed on", registry=r)
        self.rate_limited = Counter("floodwall_rate_limited", "Requests refused by a key's rate limit", registry=r)
        # Workers and the coordinator (NATS).
        self.log_lag = Histogram("floodwall_log_lag_seconds", "From JetStream storing a message to its consumer "
                                 "handling it", buckets=LATENCY, registry=r)
        self.notices = Counter("floodwall_notices", "Coordinator notices sent to partitions, by type", ["type"],
                               registry=r)
        self.incident_level = Gauge("floodwall_incident_level", "Incident level in force (0 normal to 3 critical)",
                                    registry=r)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        """Serve these metrics at http://host:port/metrics from a daemon thread (workers, coordinator)."""
        from prometheus_client import start_http_server

        start_http_server(port, addr=host, registry=self.registry)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
