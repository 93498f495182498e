"""The mall side of mallbridge: mall messages into the helpdesk inbox, and replies back.

    sync/
      malls/        one package per mall (client, model, errors, poll …) behind an adapter registry
      replies/      the reply path: smtp-in, intake, rules, the queue of mall writes, completion links
      fake_mall/    a local imitation of both malls' APIs for the demo and the tests
      runner.py     `sync run`: the worker loop (poll, post replies, expiry reminders)
      poller.py     one pass over one account: snapshots → InboundMessage rows + outbox mail
      messages.py   the mall-neutral message types (MallMessage, MallFile, Snapshot)
      identity.py   a message's Message-IDs, customer key and signed reply address
      mailer.py     one mail per mall message (subject, threading, body)
      accounts.py   add/change/renew/test mall accounts (CLI and admin share it)
      routing.py    which inbox a message goes to
      own_replies.py  replies mallbridge posted, so the poller does not mail them back
      expiry.py     credential expiry reminders; status.py the sync-status page's numbers
      models.py     accounts, cursors, inquiries, inbound messages, routing rules, reminders
      options.py    the `sync.*` runtime settings; cli.py the CLI commands
"""
