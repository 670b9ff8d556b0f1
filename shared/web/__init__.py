"""Web pieces every service's app factory is built from."""
from shared.web.blueprint import Blueprint
from shared.web.app import actor, create_service_app, current_principal, db, settings
from shared.web.csrf import clear_session_cookie, set_session_cookie

__all__ = ["Blueprint", "actor", "clear_session_cookie", "create_service_app", "current_principal", "db",
           "set_session_cookie", "settings"]
