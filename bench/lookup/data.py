"""The benchmark's members and orders, generated deterministically: the same records whether they
are COPY-loaded (load.py) or written as CSV and imported with `mallbridge import` (imported.py).

Member i has the unique e-mail `email_of(i)` and the phone `tel_of(i)`, so the load generator can
pick existing members without asking the database. 20 % of members have a second (work) e-mail;
orders are own site, Rakuten (masked relay address) and Yahoo!, one or two items each.
"""
import random
from dataclasses import dataclass

from plugin.demo import data as D

MALLS = ("own", "own", "rakuten", "yahoo")
STATUS = {"own": "発送済み", "rakuten": "発送済", "yahoo": "出荷済み"}


def email_of(i):
    """The (unique) e-mail of member i; the load generator derives its queries from this."""
    sur, given = D.SURNAMES[i % len(D.SURNAMES)], D.GIVEN_NAMES[(i // 7) % len(D.GIVEN_NAMES)]
    return f"{given[2]}.{sur[2]}{i}@{D.EMAIL_DOMAINS[i % len(D.EMAIL_DOMAINS)]}"


def tel_of(i):
    """Member i's phone (not unique beyond 10^8 members)."""
    return f"090{i % 100000000:08d}"


def code_of(i):
    """Member i's customer code."""
    return f"{i:08d}"


@dataclass
class MemberRecord:
    i: int
    name: str
    kana: str
    emails: list
    postal: str
    address: str
    registered: str  # "YYYY-MM-DD HH:MM:SS"


@dataclass
class OrderRecord:
    k: int
    number: str
    mall: str
    member: int
    name: str
    email: str
    ordered: str
    total: int
    items: list  # [(sku, name, price)], quantity 1 each


def members(n):
    """Member records 1..n."""
    rng = random.Random(1)
    for i in range(1, n + 1):
        sur, given = D.SURNAMES[i % len(D.SURNAMES)], D.GIVEN_NAMES[(i // 7) % len(D.GIVEN_NAMES)]
        city, postal, _ = D.PLACES[i % len(D.PLACES)]
        emails = [email_of(i)]
        if rng.random() < 0.2:  # a work address as well
            emails.append(f"{sur[2]}.{i}@work.example.co.jp")
        yield MemberRecord(i, f"{sur[0]} {given[0]}", f"{sur[1]} {given[1]}", emails, f"{postal}{i % 90 + 10}",
                           f"{city}{i % 5 + 1}-{i % 29 + 1}-{i % 19 + 1}",
                           f"20{18 + i % 8}-0{1 + i % 9}-1{i % 9} 0{i % 10}:00:00")


def orders(n_members, n_orders):
    """Order records 1..n_orders, each placed by a random member."""
    rng = random.Random(2)
    for k in range(1, n_orders + 1):
        i = rng.randint(1, n_members)
        mall = MALLS[k % 4]
        day = f"2026-{k % 11 + 1:02d}-{k % 28 + 1:02d}"
        number = {"own": f"YE-{k}", "rakuten": f"{D.RAKUTEN_SHOP_ID}-{day.replace('-', '')}-{k:010d}",
                  "yahoo": f"{D.YAHOO_STORE}-{10000000 + k}"}[mall]
        email = (f"{(i * 0x9E3779B97F4A7C15) % 2 ** 64:016x}s1@{D.RAKUTEN_RELAY}" if mall == "rakuten" else email_of(i))
        name = f"{D.SURNAMES[i % len(D.SURNAMES)][0]} {D.GIVEN_NAMES[(i // 7) % len(D.GIVEN_NAMES)][0]}"
        items = [D.ITEMS[(k + pos) % len(D.ITEMS)] for pos in range(1 + (k % 2))]
        yield OrderRecord(k, number, mall, i, name, email, f"{day} {k % 24:02d}:{k % 60:02d}:00",
                          sum(price for _, _, price in items) + 550, items)
