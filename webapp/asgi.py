"""ASGI entry point for multi-worker servers: `uvicorn webapp.asgi:app` (settings from the environment)."""

from webapp.app import create_app

app = create_app()
