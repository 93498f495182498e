"""The helpdesk side: its environments (production/demo) and the connection check.

`environments` keeps, per environment, the helpdesk URL, inbox ID, forwarding address, link
template and API token, and which environment is active; `check` is the connection test an
admin runs from 管理 › ヘルプデスク環境 or `mallbridge helpdesk test ENV`.
"""
from plugin.helpdesk.environments import (
    DEMO_VALUES,
    ENV_LABELS,
    ENVIRONMENTS,
    FIELDS,
    SETTINGS,
    Environment,
    activate,
    active_environment,
    active_forwarding_address,
    active_name,
    banners,
    configure_demo,
    environment,
    inbox_link,
    key,
    render_link,
    update_environment,
)

__all__ = [
    "DEMO_VALUES",
    "ENVIRONMENTS",
    "ENV_LABELS",
    "FIELDS",
    "SETTINGS",
    "Environment",
    "activate",
    "active_environment",
    "active_forwarding_address",
    "active_name",
    "banners",
    "configure_demo",
    "environment",
    "inbox_link",
    "key",
    "render_link",
    "update_environment",
]
