"""gunicorn entry point: `gunicorn -c deploy/gunicorn.conf.py services.feedback.wsgi:app`."""
from services.feedback.app import create_app

app = create_app()
