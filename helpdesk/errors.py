"""Error pages per status code; JSON for the inbound API. Never shows exception text."""

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError

from .extensions import db

MESSAGES = {
    400: "The request could not be understood.",
    401: "Please log in.",
    403: "You do not have access to this page.",
    404: "There is nothing here.",
    405: "That action is not allowed here.",
    413: "That upload is too large.",
    500: "Something went wrong on our side. It has been logged.",
}


def _respond(code: int, message: str | None = None):
    message = message or MESSAGES.get(code, "Error")
    if request.path.startswith("/inbound/"):
        return jsonify({"ok": False, "error": message}), code
    return render_template("errors/error.html", code=code, message=message), code


class NulCharacter(Exception):
    """A submitted value holds a NUL character, which no text column can store."""


def register(app: Flask) -> None:
    """Install the handlers."""

    @app.errorhandler(NulCharacter)
    def nul_character(exc):
        return _respond(400, "A value you sent contains a NUL character (\\0), which cannot "
                        "be stored. Remove it and try again.")

    for code in (400, 401, 403, 404, 405, 413):
        app.register_error_handler(code, lambda exc, code=code: _respond(code))

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return _respond(400, "The form expired or was not sent from this site. Reload the page "
                        "and try again.")

    @app.errorhandler(500)
    def server_error(exc):
        db.session.rollback()
        return _respond(500)
