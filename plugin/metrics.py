"""Prometheus metrics: requests and latency per endpoint, lookups, login failures."""
import os
import time

from flask import g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter("mallbridge_http_requests_total", "HTTP requests", ["endpoint", "method", "status"])
LATENCY = Histogram(
    "mallbridge_http_request_duration_seconds", "HTTP request latency", ["endpoint"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
LOOKUPS = Counter("mallbridge_lookups_total", "Customer lookups", ["kind", "outcome"])
LOGIN_FAILURES = Counter("mallbridge_login_failures_total", "Failed staff logins")


def init_app(app):
    """Time every request; the endpoint name keeps label cardinality bounded."""

    @app.before_request
    def _start_timer():
        g._mb_started = time.perf_counter()

    @app.after_request
    def _record(response):
        started = g.pop("_mb_started", None)
        endpoint = request.endpoint or "unmatched"
        REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
        if started is not None:
            LATENCY.labels(endpoint).observe(time.perf_counter() - started)
        return response


def exposition():
    """Metrics text; aggregates all gunicorn workers when PROMETHEUS_MULTIPROC_DIR is set."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
