"""Behaviour specs of the lookups by relay address, order number and name."""
