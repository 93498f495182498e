"""Ops endpoints: liveness with a DB check, and Prometheus metrics."""
import logging

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from plugin import metrics
from plugin.extensions import db

bp = Blueprint("health", __name__)
log = logging.getLogger(f"mallbridge.{__name__}")


@bp.route("/healthz")
def healthz():
    """200 when the app and its database answer, 503 otherwise."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001  (any DB failure means "not healthy", never a 500 page)
        log.warning("health check: database unreachable: %s", exc)
        db.session.rollback()
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


@bp.route("/metrics")
def metrics_view():
    """Prometheus text exposition."""
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)
