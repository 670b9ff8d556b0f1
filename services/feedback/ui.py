"""The feedback service's pages, in the shared frame: the surveys of one's branch (staff) or the surveys one can
answer and quick feedback (participants), the survey builder, a survey's page for its branch's staff (open,
close, the walk-in link and its QR code, the results), the public answer page behind the walk-in link, the
branch dashboard and, for org admins, the branches compared. Forms are checked by the API's own schemas and
handed as plain data to the use cases; what they refuse comes back on the page, in the reader's language, with
the field at fault marked."""
from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import marshmallow as ma
import qrcode
import qrcode.image.svg
from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import format_date, format_decimal, format_percent, lazy_gettext
from flask_babel import gettext as _
from markupsafe import Markup
from pymongo.errors import PyMongoError

from services.feedback import comparison, domain, schemas, services
from services.feedback.api import store
from services.feedback.insights import Filter
from shared.auth import STAFF_ROLES, AuthError, Forbidden, Principal
from shared.errors import Conflict, DomainError, NotFound
from shared.web import actor, current_principal, settings
from shared.web.frame import branch_options
from shared.web.pages import signed_in
from shared.web.i18n import as_utc, current_language

pages = Blueprint("pages", __name__)

PAGE_SIZE = 50
QUESTION_ROWS = 5  # the builder's question rows (the API takes up to 30)
TEXT_ANSWERS = 100  # written answers shown on a survey's page, newest first
LOCAL_TIME = ZoneInfo("Asia/Jerusalem")
CHOICES = domain.CHOICES

CHANNEL_LABELS = {"web": lazy_gettext("On the web"), "in_person": lazy_gettext("In person"),
                  "phone": lazy_gettext("By phone"), "kiosk": lazy_gettext("At a kiosk")}
TYPE_LABELS = {
    domain.CSAT: lazy_gettext("Satisfaction, 1 to 5"), domain.NPS: lazy_gettext("Would recommend, 0 to 10"),
    domain.SINGLE: lazy_gettext("One choice"), domain.MULTIPLE: lazy_gettext("Several choices"),
    domain.TEXT: lazy_gettext("A written answer"),
}
STATUS_LABELS = {domain.DRAFT: lazy_gettext("Draft"), domain.OPEN: lazy_gettext("Open"),
                 domain.CLOSED: lazy_gettext("Closed")}
AGE_LABELS = {"under_18": lazy_gettext("Under 18"), "18_29": "18–29", "30_44": "30–44", "45_64": "45–64",
              "65_plus": lazy_gettext("65 and over")}
IDEA_STATUS_LABELS = {
    "submitted": lazy_gettext("Submitted"), "under_review": lazy_gettext("Under review"),
    "planned": lazy_gettext("Planned"), "in_progress": lazy_gettext("In progress"),
    "implemented": lazy_gettext("Implemented"), "declined": lazy_gettext("Declined"),
    "merged": lazy_gettext("Merged"),
}
LEAD_LABELS = {"first_response": lazy_gettext("From submission to the first official response"),
               "planned": lazy_gettext("From submission to planned"),
               "implemented": lazy_gettext("From planned to implemented")}
NOTICES = {
    "opened": lazy_gettext("The survey is open: it takes responses until its closing date."),
    "closed": lazy_gettext("The survey is closed: it takes no more responses."),
    "created": lazy_gettext("The survey was saved as a draft. Open it when it is ready."),
    "quick": lazy_gettext("Thank you: your feedback went to the branch's team."),
}
# A form field the API's schemas (or the use cases) refused, said in the reader's language.
FIELD_MESSAGES = {
    "title": lazy_gettext("Give the title in Hebrew and in English, up to 140 characters each."),
    "branch_id": lazy_gettext("Choose one of your branches."),
    "closes_at": lazy_gettext("Choose a closing date after today, within a year."),
    "questions": lazy_gettext("Write at least one question, in Hebrew and in English."),
    "type": lazy_gettext("Choose the kind of question."),
    "text": lazy_gettext("Write the question in Hebrew and in English, up to 300 characters each."),
    "options": lazy_gettext("A choice question has 2 to 20 options, the same number in Hebrew and in English, "
                            "up to 120 characters each."),
    "answers": lazy_gettext("Answer every question that needs an answer."),
    "rating": lazy_gettext("Choose a rating from 1 to 5."),
    "comment": lazy_gettext("A comment is up to 2,000 characters."),
}
SAID_AS_IS = {"This link does not lead to a survey."}  # the use cases' refusals of a missing thing worth saying
STATUS_OF = {ma.ValidationError: 422, DomainError: 422, Forbidden: 403, NotFound: 404, Conflict: 409}
REFUSALS = tuple(STATUS_OF)


def refusal(exc: Exception) -> tuple[str, int]:
    """What a refused form or page says, and its status: fixed refusals are marked N_ where raised."""
    status = next(code for kind, code in STATUS_OF.items() if isinstance(exc, kind))
    if isinstance(exc, ma.ValidationError):
        return _("Check what you entered: the fields at fault are marked."), status
    text = str(exc)
    if isinstance(exc, NotFound) and text not in SAID_AS_IS:  # "No survey <id>.": nothing to tell the reader
        return _("This does not exist, or it is not yours to see."), status
    translated = _(text)
    if translated != text or current_language() == "en":
        return translated, status
    if getattr(exc, "field", None) in FIELD_MESSAGES:
        return str(FIELD_MESSAGES[exc.field]), status
    return _("Check what you entered."), status


# --- what templates show ------------------------------------------------------------------------------

def localized(texts: dict | None) -> str:
    texts = texts or {}
    return texts.get(current_language()) or texts.get("he") or texts.get("en") or ""


def branch_name(branch_id: str | None) -> str:
    if branch_id is None:
        return _("Organization-wide")
    return current_app.extensions["cocreate_branch_names"].name(branch_id, current_language())


def when(at) -> str:
    return format_date(as_utc(at), "medium")


def number(value, digits: int = 1) -> str:
    return format_decimal(value, format=f"#,##0.{'0' * digits}") if value is not None else "–"


def percent(share) -> str:
    return format_percent(share) if share is not None else "–"


def _principal() -> Principal | None:
    try:
        return current_principal()
    except AuthError:  # a broken bearer header: the page shows as to anyone, the route decides the rest
        return None


def population_label(code: str | None) -> str:
    """A population group's name in the page's language (from the directory's list, read at most once a minute
    per app: create_app's PopulationNames), else its code."""
    if not code:
        return _("Not given")
    return localized(current_app.extensions["feedback_population_names"].of(store().db).get(code)) or code


@pages.app_context_processor
def labels():
    principal = _principal()
    return {"type_label": lambda t: TYPE_LABELS.get(t, t), "status_label": lambda s: STATUS_LABELS.get(s, s),
            "age_label": lambda g: AGE_LABELS.get(g, g) if g else _("Not given"), "population_label": population_label,
            "channel_label": lambda c: CHANNEL_LABELS.get(c, c),
            "idea_status_label": lambda s: IDEA_STATUS_LABELS.get(s, s), "lead_label": lambda n: LEAD_LABELS[n],
            "localized": localized, "branch_name": branch_name, "when": when, "number": number,
            "percent": percent, "viewer_is_staff": bool(principal and principal.is_staff),
            "viewer_is_org_admin": bool(principal and principal.is_org_admin)}


# --- who may see what ---------------------------------------------------------------------------------



def _message(title: str, text: str, status: int):
    return render_template("feedback/message.html", title=title, message=text), status


def _not_staff():
    return _message(_("For the branch's staff"), _("Only the staff of the branch see this page."), 403)


def _notice() -> str | None:
    notice = NOTICES.get(request.args.get("done", ""))
    return str(notice) if notice else None


def _managed(principal: Principal) -> list[tuple[str, str]]:
    """(id, name) of the branches whose surveys and feedback the person manages; org admins: every branch."""
    ids = principal.branches_with(STAFF_ROLES)
    if principal.is_org_admin and not ids:
        return branch_options(open_only=True)
    return sorted(((b, branch_name(b)) for b in ids), key=lambda b: b[1])


def _pick_branch(principal: Principal, wanted: str | None) -> tuple[list[tuple[str, str]], str | None]:
    """The staff member's branches and the one asked for (else the first); None if it is not theirs."""
    mine = _managed(principal)
    wanted = wanted or (mine[0][0] if mine else None)
    if wanted is None or not services.may_manage(principal, wanted):
        return mine, None
    return mine, wanted


# --- home ----------------------------------------------------------------------------------------------

@pages.get("/")
def home():
    principal = _principal()
    if principal is None:  # what feedback is, with the frame's sign-in link, and the branches' boards
        return render_template("home.html", boards=_boards())
    if principal.is_staff:
        return _staff_home(principal)
    return _participant_home(principal)


def _boards() -> list[tuple[str, str]]:
    """(id, name) of the open branches, for links to their boards; none while the store is away (the page
    still says what feedback is)."""
    try:
        return branch_options(open_only=True)
    except PyMongoError:
        current_app.logger.warning("branches unavailable for the boards' links", exc_info=True)
        return []


def _staff_home(principal: Principal):
    branches, branch_id = _pick_branch(principal, request.args.get("branch_id"))
    if branch_id is None:
        return _not_staff()
    try:
        surveys, _cursor = services.list_surveys(store(), actor(), branch_id=branch_id, limit=PAGE_SIZE)
    except REFUSALS as exc:
        message, status = refusal(exc)
        return _message(_("Surveys"), message, status)
    return render_template("feedback/staff_home.html", surveys=surveys, branches=branches, branch_id=branch_id,
                           notice=_notice(), section="home")


def _participant_home(principal: Principal, form=None, failure=None, errors=None, status=200):
    st, who = store(), actor()
    surveys = []
    for branch_id in dict.fromkeys([principal.home_branch, None]):
        found, _cursor = services.list_surveys(st, who, branch_id=branch_id, limit=PAGE_SIZE)
        surveys += found
    return render_template("feedback/participant_home.html", surveys=surveys, home_branch=principal.home_branch,
                           has_board=bool(principal.home_branch and services.branch_of(st.db, principal.home_branch)),
                           form=form or {}, failure=failure, errors=errors or {}, notice=_notice(),
                           section="home"), status


@pages.post("/quick")
@signed_in
def quick():
    principal = current_principal()
    form = request.form
    rating = form.get("rating", "")
    body = {"branch_id": principal.home_branch, "rating": int(rating) if rating.isdigit() else rating,
            "comment": form.get("comment", "").strip() or None}
    try:
        services.quick_feedback(store(), actor(), **schemas.QuickFeedbackCreateSchema().load(body))
    except REFUSALS as exc:
        message, status = refusal(exc)
        return _participant_home(principal, form, message, _field_errors(exc), status)
    return redirect(url_for("pages.home", done="quick", _anchor="quick"), 303)


def _field_errors(exc: Exception) -> dict[str, str]:
    """The form fields a refusal is about, each with its message (the message keys of the form's fields)."""
    if isinstance(exc, ma.ValidationError):
        return {field: str(FIELD_MESSAGES.get(field, _("Check this field."))) for field in exc.normalized_messages()}
    field = getattr(exc, "field", None)
    return {field: refusal(exc)[0]} if field else {}


# --- the survey builder --------------------------------------------------------------------------------

def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _closing(value: str) -> str:
    """The end of the chosen day, in Israel's time, as the API's date-time; anything else as it came."""
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        return value
    return datetime.combine(day, time(23, 59), LOCAL_TIME).isoformat()


def _question_rows(form) -> list[dict]:
    """The builder's question rows as written; rows left empty are left out."""
    rows = []
    for i in range(1, QUESTION_ROWS + 1):
        row = {"row": i, "type": form.get(f"q{i}.type", ""), "he": form.get(f"q{i}.he", "").strip(),
               "en": form.get(f"q{i}.en", "").strip(), "options_he": form.get(f"q{i}.options_he", ""),
               "options_en": form.get(f"q{i}.options_en", ""), "optional": bool(form.get(f"q{i}.optional"))}
        options = _lines(row["options_he"]) or _lines(row["options_en"])
        if row["he"] or row["en"] or (row["type"] in CHOICES and options):
            rows.append(row)
    return rows


def _survey_body(form) -> tuple[dict, dict[str, str]]:
    """The builder's form as the API's body, and the fields at fault: the schema's, and choice rows whose
    options do not pair up in the two languages."""
    rows = _question_rows(form)
    errors: dict[str, str] = {}
    questions = []
    for row in rows:
        question = {"type": row["type"], "text": {"he": row["he"], "en": row["en"]}, "required": not row["optional"]}
        if row["type"] in CHOICES:
            he, en = _lines(row["options_he"]), _lines(row["options_en"])
            if len(he) != len(en) or not 2 <= len(he) <= domain.MAX_OPTIONS:
                errors[f"q{row['row']}.options"] = str(FIELD_MESSAGES["options"])
            question["options"] = [{"text": {"he": h, "en": e}} for h, e in zip(he, en)]
        questions.append(question)
    body = {"title": {"he": form.get("title_he", "").strip(), "en": form.get("title_en", "").strip()},
            "branch_id": form.get("branch_id") or None, "questions": questions,
            "closes_at": _closing(form.get("closes_at", "")), "anonymous": form.get("anonymous") == "yes"}
    try:
        body = schemas.SurveyCreateSchema().load(body)
    except ma.ValidationError as exc:
        errors.update(_survey_errors(exc.normalized_messages(), rows))
    if not rows:
        errors["questions"] = str(FIELD_MESSAGES["questions"])
    return body, errors


def _survey_errors(messages: dict, rows: list[dict]) -> dict[str, str]:
    """The schema's messages on the builder's fields: title.he, q2.text and so on (a question's index is its
    place among the rows written, which is not always its row)."""
    errors = {}
    for field, inner in messages.items():
        if field == "title" and isinstance(inner, dict):
            errors.update({f"title.{lang}": str(FIELD_MESSAGES["title"]) for lang in inner if lang in ("he", "en")})
        elif field == "questions" and isinstance(inner, dict):
            for index, problems in inner.items():
                row = rows[index]["row"] if isinstance(index, int) and index < len(rows) else 1
                for name in problems if isinstance(problems, dict) else ("text",):
                    key = name if name in ("type", "text", "options") else "text"
                    errors[f"q{row}.{key}"] = str(FIELD_MESSAGES[key])
        else:
            errors[field] = str(FIELD_MESSAGES.get(field, _("Check this field.")))
    return errors


def _builder_page(principal: Principal, form=None, errors: dict[str, str] | None = None,
                  failure: str | None = None, status: int = 200):
    if form is None:  # a new survey starts with a satisfaction question and an optional written answer
        rows = {1: {"row": 1, "type": domain.CSAT}, 2: {"row": 2, "type": domain.TEXT, "optional": True}}
        chosen = request.args.get("branch_id", "")
    else:
        rows = {row["row"]: row for row in _question_rows(form)}
        chosen = form.get("branch_id", "")
    return render_template("feedback/new.html", form=form or {}, chosen=chosen, branches=_managed(principal),
                           rows=[rows.get(i, {"row": i}) for i in range(1, QUESTION_ROWS + 1)],
                           types=domain.QUESTION_TYPES, errors=errors or {}, failure=failure,
                           section="new"), status


@pages.route("/surveys/new", methods=["GET", "POST"])
@signed_in
def new_survey():
    principal = current_principal()
    if not principal.is_staff:
        return _not_staff()
    if request.method == "GET":
        return _builder_page(principal)
    form = request.form
    body, errors = _survey_body(form)
    if errors:
        return _builder_page(principal, form, errors, _("Check what you entered: the fields at fault are marked."),
                             422)
    try:
        doc = services.create_survey(store(), actor(), **body)
    except REFUSALS as exc:
        message, status = refusal(exc)
        field = getattr(exc, "field", None)
        return _builder_page(principal, form, {field: message} if field else {}, message, status)
    return redirect(url_for("pages.survey", survey_id=doc["_id"], done="created"), 303)


# --- a survey, for its branch's staff ------------------------------------------------------------------

def public_path(doc: dict) -> str:
    return url_for("pages.public", token=doc["public_token"])


def qr_code(url: str) -> Markup:
    """The walk-in link as an inline SVG QR code (drawn here, nothing fetched)."""
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    svg = image.to_string(encoding="unicode")
    label = _("QR code of the survey's link")
    return Markup(svg.replace("<svg ", f'<svg role="img" aria-label="{Markup.escape(label)}" ', 1))


def _text_answers(survey_id: str, doc: dict, results: dict) -> list[dict]:
    """Written answers, shown only with the figures (never under the threshold): an identified survey's newest,
    an anonymous survey's without who or when (services.anonymous_texts)."""
    texts = [q["id"] for q in doc["questions"] if q["type"] == domain.TEXT]
    if results["suppressed"] or not results.get("responses") or not texts:
        return []
    if doc.get("anonymous"):
        return services.anonymous_texts(store(), actor(), survey_id)
    found, _cursor = services.list_responses(store(), actor(), survey_id, limit=TEXT_ANSWERS)
    return [{"question_id": a["question_id"], "text": a["value"], "at": r["submitted_at"]}
            for r in found for a in r.get("answers", []) if a["question_id"] in texts]


def _survey_page(survey_id: str, failure: str | None = None, status: int = 200):
    st, who = store(), actor()
    try:
        doc = services.get_survey(st, who, survey_id)
        if not services.may_manage(who.principal, doc.get("branch_id")):
            return _not_staff()
        results = services.survey_results(st, who, survey_id)
        texts = _text_answers(survey_id, doc, results)
    except REFUSALS as exc:
        message, code = refusal(exc)
        return _message(_("Survey"), message, code)
    link = public_path(doc)
    absolute = settings().public_url.rstrip("/") + link  # what a phone opens, as the directory's join links
    figures = {q["question_id"]: q for q in results["questions"]}
    return render_template("feedback/survey.html", doc=doc, results=results, figures=figures, texts=texts,
                           link=link, absolute_link=absolute, qr=qr_code(absolute), failure=failure,
                           notice=None if failure else _notice(), section="survey"), status


@pages.get("/surveys/<survey_id>")
@signed_in
def survey(survey_id):
    return _survey_page(survey_id)


# What staff may do to a survey from its page: the use case, and the notice said after it.
SURVEY_ACTIONS = {"open": (services.open_survey, "opened"), "close": (services.close_survey, "closed")}


@pages.post("/surveys/<survey_id>/<any(open, close):action>")
@signed_in
def survey_action(survey_id, action):
    use_case, done = SURVEY_ACTIONS[action]
    try:
        use_case(store(), actor(), survey_id)
    except REFUSALS as exc:
        message, status = refusal(exc)
        return _survey_page(survey_id, message, status)
    return redirect(url_for("pages.survey", survey_id=survey_id, done=done), 303)


# --- the walk-in link: answering -----------------------------------------------------------------------

def _answers(doc: dict, form) -> dict:
    """The answer form as the API's answers: ratings as whole numbers, choices as option ids."""
    answers = {}
    for q in doc["questions"]:
        if q["type"] == domain.MULTIPLE:
            answers[q["id"]] = form.getlist(q["id"])
        elif q["type"] in (domain.CSAT, domain.NPS):
            value = form.get(q["id"], "")
            answers[q["id"]] = int(value) if value.isdigit() else value or None
        else:
            answers[q["id"]] = form.get(q["id"], "").strip() or None
    return answers


def _public_page(token: str, form=None, failure: str | None = None, status: int = 200):
    try:
        doc = services.public_survey(store(), token)
    except NotFound as exc:
        message, code = refusal(exc)
        return _message(_("Survey"), message, code)
    accepting = services.survey_of(doc).accepting(domain.now())
    return render_template("feedback/answer.html", doc=doc, token=token, accepting=accepting, form=form or {},
                           failure=failure, signed_in=_principal() is not None, section="answer"), status


@pages.get("/s/<token>")
def public(token):
    return _public_page(token)


@pages.post("/s/<token>")
@signed_in
def answer(token):
    try:
        doc = services.public_survey(store(), token)
        body = schemas.ResponseCreateSchema().load({"answers": _answers(doc, request.form)})
        services.submit_response(store(), actor(), doc["_id"], **body)
    except REFUSALS as exc:
        message, status = refusal(exc)
        return _public_page(token, request.form, message, status)
    return redirect(url_for("pages.thanks", token=token), 303)


@pages.get("/s/<token>/thanks")
def thanks(token):
    try:
        doc = services.public_survey(store(), token)
    except NotFound as exc:
        message, code = refusal(exc)
        return _message(_("Survey"), message, code)
    return render_template("feedback/thanks.html", doc=doc, section="answer")


# --- "you said, we did" -------------------------------------------------------------------------------

@pages.get("/board/<branch_id>")
def board(branch_id):
    """A branch's public board (no sign-in): the subjects people raised in the last three months (only those of
    5 or more people) and the ideas the branch implemented, with their measured outcome where it is shown."""
    try:
        found = services.board(store(), branch_id)
    except NotFound as exc:
        message, code = refusal(exc)
        return _message(_("You said, we did"), message, code)
    return render_template("feedback/board.html", branch_id=branch_id, themes=found["themes"],
                           ideas=found["ideas"], section="board")


# --- the branch dashboard ------------------------------------------------------------------------------

@pages.get("/dashboard")
@signed_in
def dashboard():
    """Satisfaction over a period (the last 3, 6, 12 or 24 months), overall and by age and population group, for
    all channels or one and all ages or one, and the ideas' funnel and lead times, for the branch's staff; every
    cell behind fewer than 5 people shows no figure."""
    principal = current_principal()
    branches, branch_id = _pick_branch(principal, request.args.get("branch_id"))
    if branch_id is None:
        return _not_staff()
    chosen = _filters(schemas.DashboardFiltersSchema(), request.args)
    if chosen is None:
        return _message(_("Dashboard"), _("Choose the period, channel and age group from the lists."), 422)
    st, who, months = store(), actor(), services.months_back(chosen["months"])
    scope, flt = f"branch:{branch_id}", Filter(age_group=chosen["age_group"], channel=chosen["channel"])
    try:
        found = services.satisfaction_by(st, who, scope=scope, months=months, flt=flt, by=GROUPS)
        themes = services.themes(st, who, scope=scope, months=months, age_group=chosen["age_group"],
                                 limit=DASHBOARD_THEMES)["themes"]
        ideas = services.idea_insights(st, who, scope=scope, months=months)
        people = services.spread_and_ambassadors(st, who, branch_id=branch_id)
    except REFUSALS as exc:
        message, status = refusal(exc)
        return _message(_("Dashboard"), message, status)
    funnel_top = max([1, *ideas["funnel"].values()])
    return render_template("feedback/dashboard.html", branches=branches, branch_id=branch_id, chosen=chosen,
                           periods=PERIODS, channels=domain.CHANNELS, ages=domain.AGE_GROUPS,
                           totals=found["totals"], by_age=found["rows"]["age_group"],
                           by_population=found["rows"]["population_group"], threshold=found["threshold"],
                           months=months, ideas=ideas, funnel_top=funnel_top, themes=themes,
                           people=people, statuses=services.IDEA_STATUSES, leads=services.LEAD_TIMES,
                           section="dashboard")


PERIODS = comparison.PERIODS  # the pages' periods, in months back from this one (kept pre-combined for the org)
GROUPS = ("age_group", "population_group")  # the dashboards' breakdowns
DASHBOARD_THEMES = 10  # the most raised subjects a dashboard lists


def _filters(schema: ma.Schema, args) -> dict | None:
    """A page's filters as asked, or None if any is not one of the choices (schemas.DashboardFiltersSchema)."""
    try:
        return schema.load(args)
    except ma.ValidationError:
        return None


# --- the branches compared, for org admins ---------------------------------------------------------------

# The orders of the comparison (comparison.SORTS), each said as its column.
SORT_LABELS = {"name": lazy_gettext("Branch name"), "responses": lazy_gettext("Survey responses"),
               "csat": lazy_gettext("Survey satisfaction"), "nps": lazy_gettext("Net promoter score"),
               "quick": lazy_gettext("Quick feedback rating"), "implemented": lazy_gettext("Ideas implemented"),
               "lead_time": lazy_gettext("Days from planned to implemented")}
ORG_PAGE_ROWS = 100  # branches a page shows (an organization may have a thousand)


@pages.get("/org")
@signed_in
def org():
    """Every branch (of a region, or all) side by side over a period, for org admins: survey satisfaction,
    responses, NPS, quick ratings, outcome answers (each hidden behind fewer than 5 people), ideas implemented
    and the median days from planned to implemented; in the order asked."""
    chosen = _filters(schemas.OrgFiltersSchema(), request.args)
    if chosen is None:
        return _message(_("Branches compared"), _("Choose the period, channel, age group, region and order from "
                                                   "the lists."), 422)
    st, who, months = store(), actor(), services.months_back(chosen["months"])
    scope = f"region:{chosen['region_id']}" if chosen["region_id"] else "org"
    flt = Filter(age_group=chosen["age_group"], channel=chosen["channel"])
    try:
        view = services.compare_branches(st, who, months=months, region_id=chosen["region_id"], sort=chosen["sort"],
                                         offset=(chosen["page"] - 1) * ORG_PAGE_ROWS, limit=ORG_PAGE_ROWS,
                                         lang=current_language())
        found = services.satisfaction_by(st, who, scope=scope, months=months, flt=flt, by=GROUPS)
    except REFUSALS as exc:
        message, status = refusal(exc)
        return _message(_("Branches compared"), message, status)
    regions = {b.get("region_id") for b in st.insights.comparison.branches()}  # every region, to switch
    pages_ = max(1, -(-view["total"] // ORG_PAGE_ROWS))
    return render_template("feedback/org.html", rows=view["branches"], chosen=chosen, periods=PERIODS,
                           regions=sorted(r for r in regions if r), sorts=SORT_LABELS, threshold=view["threshold"],
                           as_of=view["as_of"], total=view["total"], pages=pages_, channels=domain.CHANNELS,
                           ages=domain.AGE_GROUPS, totals=found["totals"], by_age=found["rows"]["age_group"],
                           by_population=found["rows"]["population_group"], section="org")


blueprints = [pages]
