"""The feedback service's app factory."""
from __future__ import annotations

from flask import Flask

from services.feedback import SERVICE
from services.feedback.api import blueprints
from services.feedback.repository import INDEXES
from services.feedback.ui import blueprints as pages
from shared.config import Settings, load_settings
from shared.web import create_service_app


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings(SERVICE)
    return create_service_app(settings, import_name=__name__, title="Cocreate feedback",
                              api_blueprints=blueprints, blueprints=pages,
                              indexes=INDEXES)
