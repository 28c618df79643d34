"""Ranking: vote-weighted, explainable scores computed in pure NumPy.

This package takes arrays and returns arrays; it imports nothing from the web, the database or
``ml`` (import-linter contracts in pyproject.toml enforce it). The scoring schemes arrive with
the "Ranking" issue; the platform's plain sorts (newest, most supported) live in
``webapp.services.ideas`` until then.
"""
