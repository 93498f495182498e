"""Helpdesk environments (production / demo): the inbox link shown on member pages."""


def inbox_link():
    """URL of the active environment's inbox, or None while it is incomplete."""
    return None


def banners():
    """Banners about the helpdesk environment (e.g. while the demo environment is active)."""
    return []
