"""The directory's pages, in the shared frame: sign in and out, join a branch by invite, my profile, and the
administration of branches, staff, invites (printable, with a QR code) and imports."""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlparse

import qrcode
import qrcode.image.svg
from flask import Blueprint, Response, abort, make_response, redirect, render_template, request, url_for
from flask_babel import format_date, lazy_gettext
from flask_babel import gettext as _
from markupsafe import Markup

from services.directory import services
from services.directory.api import directory, invite_out, issuer
from services.directory.domain import AGE_GROUPS, BRANCH_ROLES
from shared.auth import STAFF_ROLES, AuthError, Forbidden, require_role_in
from shared.errors import Conflict, DomainError, NotFound, RateLimited
from shared.web import actor, current_principal, settings
from shared.web.i18n import current_language
from shared.web.csrf import clear_session_cookie, set_session_cookie

pages = Blueprint("pages", __name__)
DEVICE_COOKIE = "cocreate_device"
DEVICE_MAX_AGE = 365 * 24 * 3600
PROBLEMS = (DomainError, Conflict, NotFound, Forbidden, AuthError, RateLimited)


def _safe_next(target: str | None) -> str:
    """Only same-origin paths: a sign-in link must not send people elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and not urlparse(target).netloc:
        return target
    return "/ideas/"


def signed_in(view):
    """Pages for signed-in people: others go to the sign-in page and come back afterwards."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_principal() is None:
            return redirect(url_for("pages.signin", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)
    return wrapper


def staff_only(view):
    @wraps(view)
    @signed_in
    def wrapper(*args, **kwargs):
        if not current_principal().is_staff:
            abort(403)
        return view(*args, **kwargs)
    return wrapper


def _signed_in_response(token: str, target: str, device_token: str | None = None) -> Response:
    response = redirect(target)
    set_session_cookie(response, token, settings().session_ttl_seconds)
    if device_token:
        response.set_cookie(DEVICE_COOKIE, device_token, max_age=DEVICE_MAX_AGE, path="/directory", httponly=True,
                            samesite="Lax", secure=settings().production)
    return response


def _branch_name(branch) -> str:
    return branch.name_he if current_language() == "he" else branch.name_en


AGE_LABELS = {"under_18": lazy_gettext("Under 18"), "18_29": "18–29", "30_44": "30–44", "45_64": "45–64",
              "65_plus": lazy_gettext("65 and over")}
ROLE_LABELS = {"branch_staff": lazy_gettext("Branch staff"), "branch_manager": lazy_gettext("Branch manager"),
               "org_admin": lazy_gettext("Organization admin")}


@pages.app_context_processor
def labels():
    return {"age_label": lambda g: AGE_LABELS.get(g, g), "role_label": lambda r: ROLE_LABELS.get(r, r),
            "format_date": format_date}


# --- sign in and out ------------------------------------------------------------------------------------

@pages.get("/")
def home():
    principal = current_principal()
    if principal is None:
        return render_template("home.html")  # what the directory is, with the frame's sign-in link
    return render_template("directory/home.html", principal=principal)


@pages.route("/signin", methods=["GET", "POST"])
def signin():
    target = _safe_next(request.values.get("next"))
    error, email = None, ""
    if request.method == "POST":
        email = request.form.get("email", "")
        try:
            _, token = services.sign_in_with_password(directory(), issuer(), email=email,
                                                      password=request.form.get("password", ""),
                                                      ttl_seconds=settings().session_ttl_seconds)
            return _signed_in_response(token, target)
        except RateLimited:
            error = _("Too many failed attempts. Try again in a few minutes, or ask your manager to reset "
                      "your password.")
        except AuthError:
            error = _("Wrong e-mail or password.")
    device = request.cookies.get(DEVICE_COOKIE)
    status = 422 if error else 200
    return render_template("directory/signin.html", error=error, email=email, next=target,
                           has_device=bool(device)), status


@pages.post("/signin/device")
def signin_device():
    target = _safe_next(request.form.get("next"))
    try:
        _, token = services.sign_in_with_device(directory(), issuer(), request.cookies.get(DEVICE_COOKIE, ""),
                                                settings().session_ttl_seconds)
    except AuthError:
        response = redirect(url_for("pages.join_start"))
        response.delete_cookie(DEVICE_COOKIE, path="/directory")
        return response
    return _signed_in_response(token, target)


@pages.post("/signout")
def signout():
    return clear_session_cookie(redirect(url_for("pages.signin")))


# --- joining a branch ---------------------------------------------------------------------------------

@pages.get("/join")
def join_start():
    code = request.args.get("code", "").strip()
    if code:
        return redirect(url_for("pages.join", code=code))
    return render_template("directory/join_start.html")


@pages.route("/join/<code>", methods=["GET", "POST"])
def join(code):
    d = directory()
    try:
        invite, branch = services.open_invite(d, code)
    except NotFound:
        return render_template("directory/join_start.html", error=_("This code is unknown or no longer valid.")), 404
    groups = services.population_groups(d)
    error, form = None, request.form
    if request.method == "POST":
        consent = form.get("consent") == "yes"
        try:
            person, token, device = services.join(
                d, issuer(), actor(), code=invite.code, name=form.get("name") or None,
                lang=form.get("lang", "he"), email=form.get("email") or None,
                age_group=(form.get("age_group") or None) if consent else None,
                population_group=(form.get("population_group") or None) if consent else None)
            response = _signed_in_response(token, "/ideas/", device)
            return response
        except PROBLEMS as exc:
            error = str(exc)
    return render_template("directory/join.html", invite=invite, branch=branch, branch_name=_branch_name(branch),
                           groups=groups, age_groups=AGE_GROUPS, error=error, form=form), 422 if error else 200


# --- my profile ---------------------------------------------------------------------------------------

@pages.route("/me", methods=["GET", "POST"])
@signed_in
def me():
    d, error, saved = directory(), None, False
    if request.method == "POST":
        form = request.form
        changes = {"name": form.get("name", ""), "lang": form.get("lang", "he"), "email": form.get("email") or None}
        for attr in ("age_group", "population_group"):
            changes[attr] = form.get(attr) or None  # empty: consent withdrawn, the attribute removed
        try:
            services.update_me(d, actor(), **changes)
            saved = True
        except PROBLEMS as exc:
            error = str(exc)
    person = services.me(d, actor())
    response = make_response(render_template(
        "directory/me.html", person=person, groups=services.population_groups(d), age_groups=AGE_GROUPS,
        error=error, saved=saved), 422 if error else 200)
    return response


@pages.post("/me/password")
@signed_in
def my_password():
    try:
        services.change_password(directory(), actor(), current_password=request.form.get("current_password", ""),
                                 new_password=request.form.get("new_password", ""))
    except PROBLEMS as exc:
        return render_template("directory/message.html", title=_("Password"), message=str(exc), back="/directory/me"), 422
    return render_template("directory/message.html", title=_("Password"), message=_("Your password was changed."),
                           back="/directory/me")


@pages.post("/me/erase")
@signed_in
def erase_me():
    if request.form.get("confirm") != "yes":
        return redirect(url_for("pages.me"))
    services.erase_person(directory(), actor(), actor().id)
    response = make_response(render_template("directory/message.html", title=_("Your data was erased"),
                                             message=_("Everything that identified you has been removed."),
                                             back="/directory/join"))
    response.delete_cookie(DEVICE_COOKIE, path="/directory")
    return clear_session_cookie(response)


# --- administration -----------------------------------------------------------------------------------

@pages.route("/admin/branches", methods=["GET", "POST"])
@staff_only
def admin_branches():
    d, error, created = directory(), None, None
    if request.method == "POST":
        form = request.form
        try:
            if form.get("kind") == "region":
                services.create_region(d, actor(), code=form.get("code", ""),
                                       name={"he": form.get("name_he", ""), "en": form.get("name_en", "")})
            else:
                created = services.create_branch(d, actor(), code=form.get("code", ""),
                                                 name={"he": form.get("name_he", ""), "en": form.get("name_en", "")},
                                                 region_id=form.get("region_id") or None,
                                                 address=form.get("address") or None)
        except PROBLEMS as exc:
            error = str(exc)
    regions = services.list_regions(d, actor())
    branches = services.list_branches(d, actor(), after=None, limit=5000)
    tree = [(r, [b for b in branches if b.region_id == r.id]) for r in regions]
    unassigned = [b for b in branches if b.region_id not in {r.id for r in regions}]
    return render_template("directory/admin_branches.html", tree=tree, unassigned=unassigned, regions=regions,
                           error=error, created=created, can_edit=current_principal().is_org_admin), \
        422 if error else 200


def _workplaces(principal, branches: list) -> list:
    """The branches among `branches` where the principal works (org admins: all of them)."""
    if principal.is_org_admin:
        return branches
    mine = set(principal.branches_with(STAFF_ROLES))
    return [b for b in branches if b.id in mine]


@pages.route("/admin/people", methods=["GET", "POST"])
@staff_only
def admin_people():
    d, error, notice = directory(), None, None
    principal = current_principal()
    if request.method == "POST":
        form = request.form
        try:
            if form.get("action") == "reset":
                temporary = services.reset_password(d, actor(), form.get("person_id", ""))
                notice = _("New temporary password (shown once): %(password)s", password=temporary)
            elif form.get("action") == "roles":
                # The role at one branch changes; roles at the person's other branches stay.
                person = services.get_person(d, actor(), form.get("person_id", ""))
                branch_roles = {b: sorted(r) for b, r in person.branch_roles.items()}
                role = form.get("role", "")
                branch_roles[form.get("branch_id", "")] = [role] if role in BRANCH_ROLES else []
                services.change_roles(d, actor(), person.id, org_roles=sorted(person.org_roles),
                                      branch_roles={b: r for b, r in branch_roles.items() if r})
                notice = _("Roles saved.")
            else:
                role = form.get("role", "branch_staff")
                person, temporary = services.create_staff(
                    d, actor(), name=form.get("name", ""), email=form.get("email", ""), lang=form.get("lang", "he"),
                    branch_roles={form.get("branch_id", ""): [role]} if role in BRANCH_ROLES else {},
                    org_roles=["org_admin"] if role == "org_admin" else [])
                notice = _("%(name)s can now sign in with this temporary password (shown once): %(password)s",
                           name=person.name, password=temporary)
        except PROBLEMS as exc:
            error = str(exc)
    branch_id = request.args.get("branch_id") or None
    people = services.list_people(d, actor(), kind="staff", branch_id=branch_id, after=None, limit=200)
    every_branch = services.list_branches(d, actor(), after=None, limit=5000)
    names = {b.id: _branch_name(b) for b in every_branch}  # one query for the whole table
    branches = _workplaces(principal, every_branch)
    return render_template("directory/admin_people.html", people=people, branches=branches, names=names,
                           error=error, notice=notice, roles=BRANCH_ROLES, is_admin=principal.is_org_admin), \
        422 if error else 200


@pages.route("/admin/invites", methods=["GET", "POST"])
@staff_only
def admin_invites():
    d, error, created = directory(), None, None
    principal = current_principal()
    if request.method == "POST":
        try:
            max_uses = request.form.get("max_uses") or None
            created = services.create_invite(d, actor(), branch_id=request.form.get("branch_id", ""),
                                             days=int(request.form.get("days") or 90),
                                             max_uses=int(max_uses) if max_uses else None)
        except ValueError:
            error = _("Days and uses are whole numbers.")
        except PROBLEMS as exc:
            error = str(exc)
    invites = services.list_invites(d, actor(), branch_id=None)
    branches = [b for b in _workplaces(principal, services.list_branches(d, actor(), after=None, limit=5000))
                if b.open]
    names = {b.id: _branch_name(b) for b in branches}
    return render_template("directory/admin_invites.html", invites=[invite_out(i) for i in invites],
                           branches=branches, names=names, created=created, error=error), 422 if error else 200


IMPORTS = {"regions": "import_regions", "branches": "import_branches", "staff": "import_staff"}


@pages.route("/admin/imports", methods=["GET", "POST"])
@staff_only
def admin_imports():
    """Upload a CSV of regions, branches or staff; a file with any bad row imports nothing, and every bad row
    is listed with its line number."""
    from services.directory import importer

    error, notice, rows = None, None, []
    if request.method == "POST":
        kind, upload = request.form.get("kind", ""), request.files.get("file")
        if kind not in IMPORTS or upload is None or not upload.filename:
            error = _("Choose what to import and a CSV file.")
        else:
            try:
                count = getattr(importer, IMPORTS[kind])(directory(), actor(), upload.read())
                notice = _("%(count)s rows imported.", count=count)
            except importer.ImportRejected as exc:
                error, rows = _("Nothing was imported: fix these lines and upload the file again."), exc.errors
            except PROBLEMS as exc:
                error = str(exc)
    return render_template("directory/admin_imports.html", error=error, notice=notice, rows=rows), \
        422 if error else 200


@pages.get("/invites/<code>/print")
@staff_only
def print_invite(code):
    """A printable sheet for the branch: the code in large letters and a QR code of the join link."""
    d = directory()
    invite, branch = services.open_invite(d, code)
    require_role_in(current_principal(), invite.branch_id, STAFF_ROLES)
    url = invite_out(invite)["join_url"]
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=12, border=2)
    svg = image.to_string(encoding="unicode")
    return render_template("directory/invite_print.html", invite=invite, branch_name=_branch_name(branch),
                           join_url=url, qr=Markup(svg))


blueprints = [pages]
