"""The web explorer: ``create_app(sources)`` (FastAPI) and ``embscope serve``."""

from .app import create_app

__all__ = ["create_app"]
