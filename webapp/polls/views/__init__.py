"""HTTP for polls: each area in its own module, composed in routes.py and views/api.py."""
