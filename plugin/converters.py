"""URL converters shared by every blueprint."""
from werkzeug.routing import IntegerConverter

# Primary keys are 32-bit on PostgreSQL (INTEGER); a larger id in a URL can name no row.
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<int:…>` limited to the database's integer range, so /members/99999999999 is a 404.

    Without the bound PostgreSQL rejects the query ("integer out of range") and the page is a 500.
    """

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def init_app(app):
    """Replace the stock `int` converter; call before any blueprint is registered."""
    app.url_map.converters["int"] = IdConverter
