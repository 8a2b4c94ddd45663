"""WSGI entry point: the only module that builds an app on import."""

from helpdesk import create_app

app = create_app()
