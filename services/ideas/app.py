"""The ideas service's app factory."""
from __future__ import annotations

from flask import Flask

from services.ideas import SERVICE
from services.ideas.api import blueprints
from services.ideas.catalog import Catalog
from services.ideas.repository import INDEXES, Ballot
from services.ideas.ui import blueprints as pages
from shared.config import Settings, load_settings
from shared.web import create_service_app


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings(SERVICE)
    app = create_service_app(settings, import_name=__name__, title="Cocreate ideas",
                             api_blueprints=blueprints, blueprints=pages,
                             indexes=INDEXES)
    app.extensions["ideas_catalog"] = Catalog()  # this process's browse and search index
    app.extensions["ideas_ballot"] = Ballot(app.extensions["cocreate"].db)  # its votes, written together
    return app
