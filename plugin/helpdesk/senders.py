"""Sending a chunk's contacts: one after another under the rate limit, a few at a time without it.

Under the helpdesk's limit (60 a minute) there is nothing to gain from parallel requests: the
contacts go one by one, and the first error that concerns the whole pass stops the chunk. With the
limit lifted (a fake helpdesk, a benchmark) THREADS requests are in flight at once, each thread
with its own client and connection, so mallbridge's own work overlaps the helpdesk's answer time.
Contacts of a chunk that share an e-mail address (a family, a mall customer and its member) are
sent by one thread in the chunk's order, so which of them keeps the address does not depend on
timing. Only plugin.helpdesk.send runs in the threads; the caller writes the database, in order.
"""
import threading
from concurrent.futures import ThreadPoolExecutor

from flask import current_app

from plugin.helpdesk import send
from plugin.helpdesk.api import HelpdeskError

THREADS = 4


class Senders:
    """Clients made by `make_api()` (one per thread); `send()` pushes a list of contacts."""

    def __init__(self, make_api, threads: int = 1):
        self.make_api, self.threads = make_api, max(1, threads)
        # The threads work inside this app's context (the client reads its config and the database).
        self.app = current_app._get_current_object()
        self.apis, self._local, self._lock = [], threading.local(), threading.Lock()
        self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="helpdesk-push") if self.threads > 1 else None

    def api(self):
        """This thread's client."""
        api = getattr(self._local, "api", None)
        if api is None:
            api = self._local.api = self.make_api()
            with self._lock:
                self.apis.append(api)
        return api

    @property
    def requests(self) -> int:
        """Requests sent by every client so far."""
        return sum(api.requests for api in self.apis)

    def send(self, book: int, items) -> list:
        """[(item, Outcome or HelpdeskError)] in the items' order; one by one, a pass-level error ends
        the list early (in parallel every item is tried). Other exceptions are raised."""
        if self.pool is None:
            results = []
            for item in items:
                result = self._one(book, item)
                results.append((item, result))
                if isinstance(result, HelpdeskError):
                    break
            return results
        lanes = [self.pool.submit(self._lane, book, lane) for lane in _lanes(items)]
        done = {}
        for lane in lanes:
            done.update(lane.result())
        return [(item, done[id(item)]) for item in items]

    def _lane(self, book, items):
        with self.app.app_context():
            return {id(item): self._one(book, item) for item in items}

    def _one(self, book, item):
        try:
            return send.push(self.api(), book, item.contact, known=item.known == "known",
                             maybe_sent=item.known == "pending")
        except HelpdeskError as exc:
            return exc

    def close(self) -> None:
        """Stop the threads and close the connections."""
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        for api in self.apis:
            api.close()



def _lanes(items) -> list[list]:
    """Items grouped so that two items sharing an e-mail address are in one group (union-find)."""
    parent = list(range(len(items)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i
    owner = {}
    for index, item in enumerate(items):
        for address in item.contact.addresses:
            key = address.lower()
            if key in owner:
                parent[root(index)] = root(owner[key])
            else:
                owner[key] = index
    groups = {}
    for index, item in enumerate(items):
        groups.setdefault(root(index), []).append(item)
    return list(groups.values())
