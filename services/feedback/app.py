"""The feedback service's app factory."""
from __future__ import annotations

from flask import Flask

from services.feedback import SERVICE
from services.feedback.api import blueprints
from services.feedback.repository import INDEXES, CubeCache
from services.feedback.ui import blueprints as pages
from shared.config import Settings, load_settings
from shared.readmodels import PopulationNames
from shared.web import create_service_app


def create_app(settings: Settings | None = None, *, cube_cache_seconds: float = 600.0) -> Flask:
    settings = settings or load_settings(SERVICE)
    app = create_service_app(settings, import_name=__name__, title="Cocreate feedback",
                             api_blueprints=blueprints, blueprints=pages,
                             indexes=INDEXES)
    # closed months' insight documents, kept in this process (they no longer change; see CubeCache)
    app.extensions["feedback_cubes"] = CubeCache(cube_cache_seconds)
    app.extensions["feedback_population_names"] = PopulationNames()
    return app
