"""Veche: the web platform (Starlette app, services, storage, CLI)."""
