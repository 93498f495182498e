"""`mallbridge outbox run|list|release|requeue|discard`."""
from plugin import outbox
from plugin.extensions import db
from plugin.outbox import OutboxMessage
from tests.outbox.conftest import make_mail


def _state(oid):
    db.session.expire_all()
    return db.session.get(OutboxMessage, oid).state


def test_run_once_delivers_due_mail(app, runner, smtp_server, smtp_url):
    """`outbox run --once` sends what is due over MALLBRIDGE_SMTP_URL and exits."""
    app.config["SMTP_URL"] = smtp_url
    oid = outbox.enqueue(make_mail()).id
    db.session.commit()
    result = runner.invoke(args=["outbox", "run", "--once"])
    assert result.exit_code == 0, result.output
    assert "handled 1" in result.output and _state(oid) == "sent"
    assert len(smtp_server.handler.messages) == 1


def test_run_refuses_a_bad_smtp_url(app, runner):
    """A missing or malformed SMTP URL is a clear usage error, not a traceback."""
    app.config["SMTP_URL"] = "http://mail.example.jp"
    result = runner.invoke(args=["outbox", "run", "--once"])
    assert result.exit_code == 2 and "MALLBRIDGE_SMTP_URL" in result.output
    app.config["SMTP_URL"] = None
    assert runner.invoke(args=["outbox", "run", "--once"]).exit_code == 2


def test_list_newest_first_and_by_state(app, runner):
    """`outbox list` prints one line per message, newest first; --state filters."""
    first = outbox.enqueue(make_mail(subject="一通目"))
    second = outbox.enqueue(make_mail(subject="二通目"), staged=True)
    db.session.commit()
    lines = runner.invoke(args=["outbox", "list"]).output.splitlines()
    assert lines[0].startswith(f"{second.id}\tstaged") and lines[1].startswith(f"{first.id}\tqueued")
    assert "二通目" in lines[0]
    staged = runner.invoke(args=["outbox", "list", "--state", "staged"]).output
    assert "二通目" in staged and "一通目" not in staged
    assert runner.invoke(args=["outbox", "list", "--state", "nonsense"]).exit_code == 2


def test_release_ids_or_all(app, runner):
    """`outbox release ID…` releases those; `--all` every staged one; neither is an error."""
    a, b, c = (outbox.enqueue(make_mail(), staged=True) for _ in range(3))
    db.session.commit()
    result = runner.invoke(args=["outbox", "release", str(a.id)])
    assert result.exit_code == 0 and "released 1" in result.output
    assert [_state(x.id) for x in (a, b, c)] == ["queued", "staged", "staged"]
    assert runner.invoke(args=["outbox", "release", "--all"]).output.strip() == "released 2 message(s)"
    assert runner.invoke(args=["outbox", "release"]).exit_code == 2
    assert runner.invoke(args=["outbox", "release", str(a.id)]).exit_code == 1


def test_requeue_and_discard(app, runner):
    """`requeue ID` brings a dead message back; `discard ID` gives up; wrong states and IDs fail."""
    row = outbox.enqueue(make_mail())
    row.state = "dead"
    db.session.commit()
    result = runner.invoke(args=["outbox", "requeue", str(row.id)])
    assert result.exit_code == 0 and _state(row.id) == "queued"
    assert runner.invoke(args=["outbox", "requeue", str(row.id)]).exit_code == 1
    assert runner.invoke(args=["outbox", "discard", str(row.id)]).exit_code == 0
    assert _state(row.id) == "discarded"
    missing = runner.invoke(args=["outbox", "discard", "99999"])
    assert missing.exit_code == 1 and "no such message" in missing.output
