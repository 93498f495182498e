"""One inquiry's new messages into the outbox: each mall message becomes one mail of the
inquiry's thread, once (the unique inbound_message key makes a re-poll or a crash unable to send
it twice); the poller (sync/poller.py) decides which inquiries to hand over."""
import dataclasses
import datetime as dt

from sqlalchemy import select

from plugin import clock, outbox
from plugin.extensions import db
from sync import identity, mailer, options, own_replies, routing
from sync.malls.base import Client
from sync.messages import MallMessage, Snapshot
from sync.models import InboundMessage, MallAccount, MallInquiry


class NoInbox(RuntimeError):
    """No routing rule matched and the active helpdesk environment has no forwarding address."""

    explanation_ja = ("転送先のメールアドレスがありません。管理 › ヘルプデスクで受信箱の転送用アドレスを設定するか、"
                      "振り分けルールを追加してください。")


def markers(account_id: int, inquiry_ids: list[str]) -> dict[str, str | None]:
    """Stored change markers of these inquiries of one account (one query; unknown ones absent)."""
    if not inquiry_ids:
        return {}
    rows = db.session.execute(select(MallInquiry.inquiry_id, MallInquiry.change_marker).where(
        MallInquiry.account_id == account_id, MallInquiry.inquiry_id.in_(inquiry_ids))).all()
    return dict(rows)


def deliver(account: MallAccount, snap: Snapshot, client: Client, *, staged: bool) -> int:
    """Mail every message of the inquiry not seen before; one transaction. Returns how many."""
    account = db.session.get(MallAccount, account.id)
    inquiry = db.session.scalar(select(MallInquiry).where(MallInquiry.account_id == account.id,
                                                          MallInquiry.inquiry_id == snap.inquiry_id))
    # `mall` first: the lookup then uses the unique (mall, account, inquiry, message) index
    # instead of scanning every message of the account (quadratic over a backfill).
    known = set(db.session.scalars(select(InboundMessage.message_id).where(
        InboundMessage.mall == account.mall, InboundMessage.account_id == account.id,
        InboundMessage.inquiry_id == snap.inquiry_id)))
    messages = snap.messages or []
    if not messages:
        return 0
    first = messages[0]
    first_id = identity.message_id_of(account.external_id, first)
    if inquiry is None:
        inquiry = _new_inquiry(account, snap, first, first_id)
    chain = [identity.message_id_of(account.external_id, m) for m in messages if m.message_id in known]
    cap = options.get("attachment_max_kb") * 1024
    cutoff = None if staged else history_cutoff(account)
    count = 0
    for msg in messages:
        if msg.message_id in known:
            continue
        own_id = identity.message_id_of(account.external_id, msg)
        row = InboundMessage(mall=msg.mall, account_id=account.id, inquiry_id=msg.inquiry_id,
                             message_id=msg.message_id, mail_message_id=own_id, first_message_id=first_id,
                             sender_kind=msg.sender, posted_at=clock.utc(msg.posted_at), delivered=False)
        if cutoff is not None and row.posted_at is not None and row.posted_at < cutoff:
            # History the admin chose not to backfill (e.g. a 30-day backfill, then the 60-day
            # re-scan finds a 45-day-old inquiry): remembered, never mailed live.
            row.delivered, row.skip_reason = True, "older than the backfill window"
        elif msg.sender == "shop" and own_replies.claim(account.id, msg):
            row.delivered, row.skip_reason = True, "sent via mallbridge"
        else:
            files = tuple(account.adapter.fetch_file(client, f, cap) for f in msg.attachments)
            msg = dataclasses.replace(msg, attachments=files)
            mail = mailer.build(account, msg, to=inquiry.inbox, subject=inquiry.subject, first_id=first_id,
                                chain=chain, from_mode=options.get("from_mode"))
            out = outbox.enqueue(mail, staged=staged, kind="mall", shop_id=account.shop_id,
                                 dedupe_key=f"mall:{account.id}:{msg.inquiry_id}:{msg.message_id}")
            row.outbox_id, row.delivered = out.id, True
            count += 1
        db.session.add(row)
        chain.append(own_id)
    inquiry.change_marker = snap.marker
    if staged:
        account.backfill_done = (account.backfill_done or 0) + 1
    db.session.commit()
    return count


def _new_inquiry(account: MallAccount, snap: Snapshot, first: MallMessage, first_id: str) -> MallInquiry:
    """The thread of a new inquiry: routed to an inbox, with its subject and customer key."""
    decision = routing.route(routing.Probe(account.shop_id, first.mall, first.title or first.item_name or "",
                                           first.text or "", first.inquiry_type or "", first.category or ""))
    if not decision.address:
        raise NoInbox("no inbox address")
    inquiry = MallInquiry(account_id=account.id, inquiry_id=snap.inquiry_id, first_message_id=first_id,
                          subject=mailer.base_subject(account.shop_id, first), inbox=decision.address,
                          customer=identity.customer_of(account.id, first), started_at=clock.utc(snap.started_at),
                          customer_name=(first.customer_name or "")[:200] or None,
                          customer_address=(first.customer_address or "")[:254] or None,
                          order_number=(first.order_number or "")[:64] or None,
                          inquiry_type=(first.inquiry_type or "")[:64] or None)
    db.session.add(inquiry)
    return inquiry


def history_cutoff(account: MallAccount) -> dt.datetime | None:
    """Messages posted before this (naive UTC) predate the first connect's backfill window."""
    if account.backfilled_at is None:
        return None
    return account.backfilled_at - dt.timedelta(days=options.get("backfill_days"))
