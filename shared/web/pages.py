"""What every service's pages share besides the frame: the sign-in gate."""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from flask import current_app, redirect, request

from shared.auth import AuthError
from shared.web.app import current_principal
from shared.web.frame import SIGN_IN_URL


def signed_in(view):
    """A page for signed-in people: others go to the directory's sign-in and come back here afterwards. A form
    sent without a sign-in comes back to its own address when that is a page too (e.g. the walk-in survey),
    else to the service's first page."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        try:
            principal = current_principal()
        except AuthError:  # a token that no longer holds: as signed out
            principal = None
        if principal is None:
            if request.method == "GET":
                back = request.full_path.rstrip("?")
            else:
                pages = current_app.url_map.bind_to_environ(request.environ)
                back = request.path if pages.test(request.path, method="GET") else "/"
            return redirect(f"{SIGN_IN_URL}?{urlencode({'next': request.script_root + back})}")
        return view(*args, **kwargs)
    return wrapper
