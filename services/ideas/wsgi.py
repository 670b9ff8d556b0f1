"""gunicorn entry point: `gunicorn -c deploy/gunicorn.conf.py services.ideas.wsgi:app`."""
from services.ideas.app import create_app

app = create_app()
