"""The reply path: an agent's reply mail back to the mall.

    smtp_in.py    `mallbridge smtp-in`: receives mail for r+…@REPLY_DOMAIN, stores it raw before the 250
    intake.py     stored mail → a queued mall write, a bounce to the agent, or a silent drop (loops)
    parse.py      the reply text without quotes and signature noise, the attachments, `#完了`
    rules.py      what every mall's write rules share (each adapter checks its own)
    queue.py      the queue of mall writes (reply, complete, read) on the shared queue core
    post.py       the reply side of `sync run`: one pass over the due writes
    bounce.py     the Japanese mail that tells the agent why a reply was not posted
    complete.py   the signed "complete this inquiry" link and the request; views.py its page
    models.py     ReplyMail, ReplyJob; options.py the `replies.*` runtime settings
"""
