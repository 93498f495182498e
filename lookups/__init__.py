"""Customer lookups for the helpdesk: the search core (keys, search, results), the lookup and
detail pages (views, pages), and members/orders in (CSV import, bulk API)."""
