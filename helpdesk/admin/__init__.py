"""The admin area. Every admin page is a child of this blueprint, guarded in one place."""

from flask import Blueprint, abort
from flask_login import current_user

bp = Blueprint("admin", __name__)


@bp.before_request
def require_admin():
    """Agents get 403 on every admin route, present and future."""
    if not current_user.is_authenticated:
        abort(401)
    if not current_user.is_admin:
        abort(403)


def _register_children() -> None:
    from ..integrations import bp as integrations_bp
    from ..mail.routes import bp as mailbox_bp
    from ..rules.routes import bp as rules_bp
    from ..staff import bp as staff_bp

    bp.register_blueprint(integrations_bp, url_prefix="/integrations")
    bp.register_blueprint(rules_bp, url_prefix="/rules")
    bp.register_blueprint(mailbox_bp, url_prefix="/mail")
    bp.register_blueprint(staff_bp, url_prefix="/staff")


_register_children()
