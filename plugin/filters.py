"""Jinja filters for shop staff: yen amounts and JST dates."""
from plugin.clock import to_jst


def yen(value):
    """12345 → ¥12,345; None → –."""
    return "–" if value is None else f"¥{value:,}"


def jst(value, fmt="%Y/%m/%d %H:%M"):
    """Stored naive UTC shown in Japan time."""
    value = to_jst(value)
    return value.strftime(fmt) if value else "–"


def init_app(app):
    """Register the filters."""
    app.add_template_filter(yen)
    app.add_template_filter(jst)
