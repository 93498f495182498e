"""Mall sync: Rakuten/Yahoo! clients (rakuten, yahoo), typed errors, HTTP pacing and retry maths,
the fake mall for demo and tests, and (on top of the clients) the poller, mails and reply intake."""
