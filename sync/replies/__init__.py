"""The reply path: an agent's reply mail back to the mall.

    smtp_in.py    `mallbridge smtp-in`: receives mail for r+…@REPLY_DOMAIN, stores it raw before the 250
    guard.py      who may reply (the helpdesk's reply senders), relay-address expiry, loops
    claims.py     a stored mail's claim, attempts and quarantine; the admin's requeue/discard
    intake.py     stored mail → a queued mall write, a bounce to the agent, or a silent drop (loops)
    parse.py      headers, body and attachments within the size limits
    quotes.py     the quoted history cut off, `#完了`; text.py: HTML to text, format=flowed
    rules.py      what every mall's write rules share (each adapter checks its own)
    queue.py      the queue of mall writes (reply, complete, read) on the shared queue core
    post.py       the reply side of `sync run`: one pass over the due writes
    bounce.py     the Japanese mail that tells the agent why a reply was not posted
    complete.py   the signed "complete this inquiry" link and the request; views.py its page
    models.py     ReplyMail, ReplyJob; options.py the `replies.*` runtime settings
"""
