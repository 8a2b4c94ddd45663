"""Glue for RQ job functions: each runs inside an app context built once per process."""

from __future__ import annotations

import functools
from typing import Callable, TypeVar

from flask import Flask, has_app_context

F = TypeVar("F", bound=Callable)
_app: Flask | None = None


def _worker_app() -> Flask:
    global _app
    if _app is None:
        from . import create_app

        _app = create_app()
    return _app


def job(func: F) -> F:
    """Run the job in the caller's app context, or the worker's own app (built lazily)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if has_app_context():
            return func(*args, **kwargs)
        with _worker_app().app_context():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
