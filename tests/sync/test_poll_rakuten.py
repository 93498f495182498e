"""Rakuten scan against `responses`: listed inquiries are delivered without a detail call when they
carry their messages (docs/mall-apis.md §1.5), with the detail as fallback; markers are looked up per page."""
import datetime as dt

import pytest
import responses

from sync.malls.rakuten import poll as rakuten_poll
from sync.messages import with_markers
from tests.sync.rakuten_samples import API, inquiry, page

T0 = dt.datetime(2020, 5, 1, 0, 0, 0)
T1 = dt.datetime(2020, 5, 20, 0, 0, 0)  # one window: one list call per page


@pytest.fixture
def client(rakuten_client):
    """The sample shop's client (tests/sync/fixtures.py)."""
    return rakuten_client


def _no_markers(numbers):
    return {}


def test_listed_inquiry_with_replies_is_delivered_without_detail_call(rsps, client):
    """An inquiry listed with its replies[] yields every message from the list alone: no detail request."""
    rsps.get(API + "/inquiries", json=page([inquiry()]))
    (snap,) = rakuten_poll.scan(client, T0, T1, _no_markers)
    assert [m.message_id for m in snap.messages] == ["q", "0", "1"]
    assert snap.messages[0].text == "商品の在庫はありますか？\r\n急ぎです。"
    assert snap.marker == "2020-05-19T16:00:00+09:00"
    assert len(rsps.calls) == 1


def test_listed_inquiry_with_empty_replies_is_not_re_read(rsps, client):
    """An empty replies list still means the object is complete: the first message alone, no detail call."""
    rsps.get(API + "/inquiries", json=page([inquiry(replies=[])]))
    (snap,) = rakuten_poll.scan(client, T0, T1, _no_markers)
    assert [m.message_id for m in snap.messages] == ["q"]
    assert len(rsps.calls) == 1


def test_listed_inquiry_without_replies_falls_back_to_detail(rsps, client):
    """A list entry lacking replies[] (a trimmed list shape) is completed by one detail call."""
    listed = inquiry()
    del listed["replies"]
    rsps.get(API + "/inquiries", json=page([listed]))
    rsps.get(API + "/inquiry/999999-20200519-1t", json={"result": inquiry()})
    (snap,) = rakuten_poll.scan(client, T0, T1, _no_markers)
    assert [m.message_id for m in snap.messages] == ["q", "0", "1"]


def test_fallback_detail_gone_is_skipped(rsps, client):
    """An inquiry deleted between list and detail is skipped; the next one is still delivered."""
    trimmed = inquiry()
    del trimmed["replies"]
    rsps.get(API + "/inquiries", json=page([trimmed, inquiry(inquiryNumber="999999-20200518-2")]))
    rsps.get(API + "/inquiry/999999-20200519-1t", status=404,
             json={"error": {"code": "IE004", "message": "no matching data"}})
    snaps = list(rakuten_poll.scan(client, T0, T1, _no_markers))
    assert [s.inquiry_id for s in snaps] == ["999999-20200518-2"]


def test_unchanged_inquiry_is_marked_unchanged(rsps, client):
    """A stored marker equal to lastUpdateDate gives an unchanged snapshot without messages."""
    rsps.get(API + "/inquiries", json=page([inquiry()]))
    (snap,) = rakuten_poll.scan(client, T0, T1, lambda numbers: {n: "2020-05-19T16:00:00+09:00" for n in numbers})
    assert snap.unchanged and snap.messages is None


def test_markers_are_looked_up_once_per_listed_page(rsps, client):
    """Two pages of 100 and one of 5 cost three marker lookups, each with that page's numbers only."""
    items = [inquiry(inquiryNumber=f"999999-20200519-{i}", replies=[]) for i in range(205)]
    for number in (1, 2, 3):
        rows = items[100 * (number - 1): 100 * number]
        rsps.get(API + "/inquiries", json=page(rows, total=205, pages=3, number=number),
                 match=[responses.matchers.query_param_matcher({"page": str(number)}, strict_match=False)])
    asked = []

    def markers_of(numbers):
        asked.append(list(numbers))
        return {}

    snaps = list(rakuten_poll.scan(client, T0, T1, markers_of))
    assert len(snaps) == 205
    assert [len(a) for a in asked] == [100, 100, 5]
    assert asked[1][0] == "999999-20200519-100"


@pytest.mark.parametrize("n, size, expected", [(0, 3, []), (2, 3, [2]), (3, 3, [3]), (7, 3, [3, 3, 1])])
def test_with_markers_asks_per_chunk(n, size, expected):
    """with_markers pairs every item with its stored marker, one lookup per `size` items."""
    asked = []

    def markers_of(ids):
        asked.append(len(ids))
        return {i: f"m{i}" for i in ids if i % 2}

    pairs = list(with_markers(range(n), lambda i: i, markers_of, size))
    assert pairs == [(i, f"m{i}" if i % 2 else None) for i in range(n)]
    assert asked == expected


def test_a_pass_lists_two_windows_and_keeps_the_cursor(rsps, client):
    """A pass after a complete one re-scans 60 days in two list calls (none for an empty leftover
    window), covers every second from 60 days back to its start, and moves the cursor to that start."""
    rsps.get(API + "/inquiries", json=page([]))
    now = dt.datetime(2026, 12, 1, 10, 11, 12)
    cursor = type("Cursor", (), {"scanned_until": now - dt.timedelta(seconds=30)})()
    scan = rakuten_poll.RakutenScan(object(), client, cursor, now, None)
    assert list(scan.snapshots(_no_markers)) == []
    ranges = [(call.request.params["fromDate"], call.request.params["toDate"]) for call in rsps.calls]
    assert ranges == [("2026-10-02T19:11:12", "2026-11-01T19:11:12"), ("2026-11-01T19:11:13", "2026-12-01T19:11:12")]
    scan.advance(cursor)
    assert cursor.scanned_until == now
