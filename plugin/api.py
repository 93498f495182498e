"""Bulk upsert API for shop systems: POST /api/v1/members and /api/v1/orders (Bearer token)."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
