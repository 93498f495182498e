"""The malls mallbridge talks to, each behind one MallAdapter (sync.malls.base) registered here by
name: `malls.get(account.mall)` is how the mall-neutral code reaches a mall.

    sync/malls/
      base.py        the adapter interface, the connection-test line, the Scan protocol
      errors.py      typed mall errors (the poller and the admin UI decide on the class)
      http.py        timeouts, pacing, size cap, status → error, retries inside one pass
      fields.py      tolerant parsing of mall JSON/XML fields, JST times
      rakuten/       R-Messe (RMS InquiryManagementAPI): client, model, errors, poll, rules, adapter
      yahoo/         Yahoo! Shopping store Q&A (externalTalk*): client, model, errors, poll, adapter
"""
from sync.malls.base import MallAdapter
from sync.malls.rakuten.adapter import RakutenAdapter
from sync.malls.yahoo.adapter import YahooAdapter

ADAPTERS: dict[str, MallAdapter] = {a.name: a for a in (RakutenAdapter(), YahooAdapter())}
MALLS = tuple(ADAPTERS)
LABELS = {name: adapter.label for name, adapter in ADAPTERS.items()}


def get(name: str) -> MallAdapter:
    """The adapter of a mall by its stored name; KeyError for a mall mallbridge does not know."""
    return ADAPTERS[name]


def label(name: str | None) -> str:
    """The mall's Japanese label (the name itself for an unknown mall)."""
    return LABELS.get(name, name or "")


def by_address_code(code: str) -> str | None:
    """The mall whose letter starts signed reply addresses with `code`, or None."""
    return next((a.name for a in ADAPTERS.values() if a.address_code == code), None)
