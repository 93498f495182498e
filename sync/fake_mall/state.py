"""The fake mall's in-memory world: accounts, inquiries/topics, uploads, posted replies, faults.

One RLock guards everything; handlers take it for the whole request (except while a
"timeout" fault sleeps), so the threaded server never sees half-updated state.
"""
import collections
import itertools
import secrets
import threading
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ACCESS_TOKEN_SECONDS = 3600
REFRESH_TOKEN_SECONDS = 2_419_200  # 4 weeks
DEFAULT_RATE_LIMIT = 10.0  # requests/second per account; Yahoo's documented cap, applied to both


class RakutenShop:
    """A Rakuten shop's credentials."""

    def __init__(self, shop_id, service_secret, license_key, expires_at):
        self.shop_id, self.service_secret = int(shop_id), service_secret
        self.license_key, self.expires_at = license_key, expires_at


class YahooSeller:
    """A Yahoo! store: OAuth client, refresh tokens, RSA key pair (the fake holds the private half)."""

    def __init__(self, seller_id, client_id, client_secret, key_version, private_key, allowed_ips=None):
        self.seller_id, self.client_id, self.client_secret = seller_id, client_id, client_secret
        self.key_version = str(key_version)
        self.private_key = private_key
        self.allowed_ips = allowed_ips  # None = any source address
        self.refresh_tokens = {}  # token → issued at (fake seconds)

    @property
    def public_key_pem(self):
        """The public key as the store would download it from Store Creator Pro."""
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_private_key(pem):
    """An RSA private key from PEM text."""
    return serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, password=None)


def new_private_key():
    """A fresh 2048-bit RSA key pair."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeMallState:
    """Everything the fake mall knows; all methods expect the caller to hold `lock`."""

    def __init__(self, clock=time.time, rate_limit=DEFAULT_RATE_LIMIT, rate_clock=time.monotonic):
        self.lock = threading.RLock()
        self._clock = clock
        self.rate_clock = rate_clock  # the rate limiter's own clock (tests freeze it)
        self.default_rate_limit = rate_limit
        self.reset()

    def reset(self):
        """Forget every account, message, upload, fault and counter."""
        with self.lock:
            self.offset = 0.0
            self.rate_limit = {"rakuten": self.default_rate_limit, "yahoo": self.default_rate_limit}
            self.shops = {}
            self.inquiries = {}
            self.uploads = {}  # Rakuten path → dict(label, content, content_type, shop_id)
            self.sellers = {}
            self.access_tokens = {}  # token → (seller_id, expires_at)
            self.topics = {}
            self.files = {}  # Yahoo objectKey → dict(name, content, content_type, topic_id, posted)
            self.posted = []
            self.faults = []
            self.calls = collections.Counter()
            self._recent = collections.defaultdict(collections.deque)
            self._seq = itertools.count(1)

    def now(self):
        """Fake-world UNIX seconds (real time plus any offset set via the control API)."""
        return self._clock() + self.offset

    def next_seq(self):
        """A process-wide increasing number for ids."""
        return next(self._seq)

    # -- accounts -------------------------------------------------------------------------
    def add_shop(self, shop_id, service_secret, license_key, expires_at=None):
        """Create or replace a Rakuten shop; the key lives 90 days unless told otherwise."""
        shop = RakutenShop(shop_id, service_secret, license_key,
                           expires_at if expires_at is not None else self.now() + 90 * 86400)
        self.shops[shop.shop_id] = shop
        return shop

    def add_seller(self, seller_id, client_id, client_secret, refresh_token, key_version=1, private_key=None,
                   allowed_ips=None):
        """Create or replace a Yahoo! store with one valid refresh token."""
        seller = YahooSeller(seller_id, client_id, client_secret, key_version, private_key or new_private_key(),
                             allowed_ips)
        seller.refresh_tokens[refresh_token] = self.now()
        self.sellers[seller_id] = seller
        return seller

    def issue_access_token(self, seller_id):
        """A new 1-hour access token for the store."""
        token = "fake-at-" + secrets.token_urlsafe(24)
        self.access_tokens[token] = (seller_id, self.now() + ACCESS_TOKEN_SECONDS)
        return token

    def expire_tokens(self, seller_id, access=True, refresh=False):
        """Make the store's access (and optionally refresh) tokens expired."""
        if access:
            for token, (owner, _) in list(self.access_tokens.items()):
                if owner == seller_id:
                    self.access_tokens[token] = (owner, self.now() - 1)
        if refresh and seller_id in self.sellers:
            tokens = self.sellers[seller_id].refresh_tokens
            for token in tokens:
                tokens[token] = self.now() - REFRESH_TOKEN_SECONDS - 1

    # -- rate limit and faults -----------------------------------------------------------------
    def over_rate(self, mall, account):
        """Record a call; True if the account made more calls in the last second than allowed."""
        limit = self.rate_limit.get(mall)
        self.calls[(mall, str(account))] += 1
        if not limit:
            return False
        recent, now = self._recent[(mall, str(account))], self.rate_clock()
        while recent and recent[0] <= now - 1.0:
            recent.popleft()
        if len(recent) >= limit:
            return True
        recent.append(now)
        return False

    def add_fault(self, kind, count=1, mall=None, path=None, status=None, delay=None, retry_after=None, body=None):
        """Queue a fault for the next `count` matching API calls."""
        fault = {"kind": kind, "count": int(count), "mall": mall, "path": path, "status": status,
                 "delay": delay, "retry_after": retry_after, "body": body}
        self.faults.append(fault)
        return fault

    def take_fault(self, mall, path, explicit_only=False):
        """The first queued fault that matches this call (its count is used up by one).

        explicit_only: only faults naming a `path` apply (the token endpoint, so that API faults
        are not eaten by a token refresh).
        """
        for fault in self.faults:
            if explicit_only and not fault["path"]:
                continue
            if fault["count"] > 0 and fault["mall"] in (None, mall) and (not fault["path"] or fault["path"] in path):
                fault["count"] -= 1
                if fault["count"] == 0:
                    self.faults.remove(fault)
                return dict(fault)
        return None
