"""The RQ queue and Redis connection, built from config when first needed."""

from __future__ import annotations

from flask import current_app
from redis import Redis
from rq import Queue


def redis_connection() -> Redis:
    """A Redis client for REDIS_URL (one per app, reused)."""
    conn = current_app.extensions.get("helpdesk_redis")
    if conn is None:
        conn = Redis.from_url(current_app.config["REDIS_URL"], socket_connect_timeout=2,
                              socket_timeout=5)
        current_app.extensions["helpdesk_redis"] = conn
    return conn


def get_queue() -> Queue:
    """The queue every helpdesk job goes to."""
    return Queue(current_app.config["RQ_QUEUE"], connection=redis_connection())
