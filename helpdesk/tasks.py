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


def preload() -> Flask:
    """Build the worker's app once in the parent process, so each forked job starts warm.

    Without it every job process imports and builds the app again (~0.6 s of CPU a job),
    which caps a worker far below Thermostat's 200 calls a minute. Nothing connects here:
    the database and Redis are first touched inside the job process.
    """
    from .mail import jobs as _mail_jobs  # noqa: F401
    from .rules import jobs as _rule_jobs  # noqa: F401
    from .thermostat import jobs as _thermostat_jobs  # noqa: F401

    return _worker_app()
