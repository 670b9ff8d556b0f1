"""The ideas service's pages, in the shared frame."""
from flask import Blueprint, render_template

pages = Blueprint("pages", __name__)


@pages.get("/")
def home():
    return render_template("home.html")


blueprints = [pages]
