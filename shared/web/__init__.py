"""Web pieces every service's app factory is built from."""
from shared.web.blueprint import Blueprint
from shared.web.app import actor, create_service_app, current_principal, db, settings

__all__ = ["Blueprint", "actor", "create_service_app", "current_principal", "db", "settings"]
