"""The Blueprint every service's API uses: flask-smorest's, but strict about unknown parameters in every
location (webargs would drop unknown query parameters silently; a typo in a filter must not look valid)."""
from flask_smorest import Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser


class Blueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = FlaskParser(unknown=None)  # None: each schema's own Meta.unknown (RAISE) decides
