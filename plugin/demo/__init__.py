"""The demo: `mallbridge demo seed` (a believable tea shop: members, orders, staff, the demo
helpdesk environment, the fake mall's accounts, a contact form) and the local mailbox that stands
in for the helpdesk inbox when `make run` is used."""
