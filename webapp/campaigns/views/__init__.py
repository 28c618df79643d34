"""HTTP for the campaigns domain: each area in its own module, composed in routes.py and api.py."""
