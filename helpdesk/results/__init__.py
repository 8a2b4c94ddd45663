"""Survey results: the inbound push route (routes.py), signing, and rating rules."""
