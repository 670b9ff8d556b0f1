"""gunicorn entry point: `gunicorn -c deploy/gunicorn.conf.py services.directory.wsgi:app`."""
from services.directory.app import create_app

app = create_app()
