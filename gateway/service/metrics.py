"""Prometheus metrics. Label values come only from fixed sets (type names, stages, codes, adapters):
never a BSN, an id or anything else a sender wrote."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from gateway.pipeline import Outcome

__all__ = ["Metrics"]

_KNOWN_TYPES = frozenset(
    {"JW323", "JW325", "WMO323", "WMO325", "JW303D", "JW303F", "JW304", "WMO303D", "WMO303F", "WMO304",
     "JW321", "JW322"}
)  # fmt: skip


class Metrics:
    """One registry per process (tests make their own)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "jwmo_messages_total",
            "Messages processed",
            ["adapter", "message_type", "stage"],
            registry=self.registry,
        )
        self.findings = Counter("jwmo_findings_total", "Findings reported", ["code"], registry=self.registry)
        self.billing = Counter(
            "jwmo_billing_records_total", "Billing records handed over", registry=self.registry
        )
        self.duplicates = Counter(
            "jwmo_duplicates_total", "Redelivered messages skipped", ["adapter"], registry=self.registry
        )
        self.conflicts = Counter(
            "jwmo_conflicting_duplicates_total",
            "Messages refused under TR056: identification handed over before with other content",
            ["adapter"],
            registry=self.registry,
        )
        self.failures = Counter(
            "jwmo_failures_total", "Processing failures", ["adapter", "kind"], registry=self.registry
        )
        self.rejected = Counter(
            "jwmo_http_rejected_total", "HTTP requests refused", ["status"], registry=self.registry
        )
        self.in_flight = Gauge(
            "jwmo_in_flight", "Messages being processed", ["adapter"], registry=self.registry
        )
        self.seconds = Histogram(
            "jwmo_processing_seconds", "Pipeline time per message", ["adapter"], registry=self.registry
        )

    def observe(self, adapter: str, outcome: Outcome) -> None:
        verdict = outcome.verdict
        message_type = verdict.message_type if verdict.message_type in _KNOWN_TYPES else "unknown"
        stage = verdict.stage.value if verdict.stage is not None else "valid"
        self.messages.labels(adapter, message_type, stage).inc()
        for finding in verdict.errors:
            self.findings.labels(finding.code).inc()
        self.billing.inc(len(outcome.minimised.billing))

    def render(self) -> bytes:
        return generate_latest(self.registry)
