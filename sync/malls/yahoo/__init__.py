"""Yahoo! Shopping store Q&A (externalTalk*): client, model, errors, poll, adapter."""
