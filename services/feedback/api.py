"""The feedback service's JSON API: thin routes that hand plain data to the use cases."""
from __future__ import annotations

from flask import Response, current_app, stream_with_context
from flask.views import MethodView

from services.feedback import schemas as s
from services.feedback import services
from services.feedback.exports import lines as csv_lines
from services.feedback.insights import UNKNOWN, Filter
from shared.web import Blueprint, actor, current_principal, db

BEARER = [{"bearerAuth": []}]


def store() -> services.Feedback:
    return services.Feedback.of(db(), current_app.extensions.get("feedback_cubes"))


def survey_out(doc: dict) -> dict:
    staff = services.may_manage(current_principal(), doc.get("branch_id"))
    out = {k: doc.get(k) for k in ("kind", "scope", "branch_id", "region_id", "program", "idea_id", "title",
                                   "intro", "questions", "opens_at", "closes_at", "anonymous", "status",
                                   "created_at", "version", "invited")}
    out.update(id=doc["_id"], public_token=doc.get("public_token") if staff else None,
               created_by=doc.get("created_by") if staff else None)
    return out


def response_out(doc: dict) -> dict:
    segment = doc.get("segment") or {}
    return {"id": doc["_id"], "kind": doc["kind"], "survey_id": doc.get("survey_id"), "idea_id": doc.get("idea_id"),
            "branch_id": segment.get("branch_id"), "program": segment.get("program"),
            "channel": segment.get("channel", "web"), "anonymous": doc.get("anonymous", False),
            "person_id": doc.get("person_id"), "entered_by": doc.get("entered_by"), "answers": doc.get("answers", []),
            "submitted_at": doc["submitted_at"], "replies": doc.get("replies", [])}


def _months(args: dict) -> list[str]:
    return args.get("months") or services.months_back(12)


def _filter_arg(value):
    return None if value is None else "-" if value == UNKNOWN else value


def _group_arg(value):
    return None if value is None else UNKNOWN if value == s.UNKNOWN else value


def _filter_of(args: dict) -> Filter:
    return Filter(age_group=_filter_arg(args.get("age_group")),
                  population_group=_filter_arg(args.get("population_group")), channel=args.get("channel"),
                  program=_filter_arg(args.get("program")))


# --- surveys -----------------------------------------------------------------------------------------------

surveys = Blueprint("surveys", __name__, url_prefix="/surveys",
                    description="Surveys for a branch, a program or the organization; responses; outcome surveys")


@surveys.route("")
class SurveyCollection(MethodView):
    @surveys.doc(security=BEARER)
    @surveys.arguments(s.SurveyListArgsSchema, location="query")
    @surveys.response(200, s.SurveyPageSchema)
    def get(self, args):
        """Surveys of a branch (or of programs and the organization), newest first: staff see every status;
        others the surveys they can answer now."""
        found, cursor = services.list_surveys(store(), actor(), branch_id=args.get("branch_id"),
                                              status=args.get("status"), after=args.get("after"), limit=args["limit"])
        return {"items": [survey_out(d) for d in found], "next_cursor": cursor}

    @surveys.doc(security=BEARER)
    @surveys.arguments(s.SurveyCreateSchema)
    @surveys.response(201, s.SurveySchema)
    def post(self, body):
        """Create a draft survey (staff of the branch; org admins for programs and the whole organization)."""
        return survey_out(services.create_survey(store(), actor(), **body))


@surveys.route("/public/<token>")
class PublicSurvey(MethodView):
    @surveys.response(200, s.SurveySchema)
    def get(self, token):
        """The survey behind a walk-in link or QR code (no sign-in needed to read it)."""
        return survey_out(services.public_survey(store(), token))


@surveys.route("/<survey_id>")
class SurveyItem(MethodView):
    @surveys.doc(security=BEARER)
    @surveys.response(200, s.SurveySchema)
    def get(self, survey_id):
        """A survey with its questions in Hebrew and English."""
        return survey_out(services.get_survey(store(), actor(), survey_id))

    @surveys.doc(security=BEARER)
    @surveys.arguments(s.SurveyUpdateSchema)
    @surveys.response(200, s.SurveySchema)
    def patch(self, body, survey_id):
        """Change a draft survey (once open, what respondents saw stays)."""
        return survey_out(services.edit_survey(store(), actor(), survey_id, **body))


@surveys.route("/<survey_id>/open")
class SurveyOpen(MethodView):
    @surveys.doc(security=BEARER)
    @surveys.response(200, s.SurveySchema)
    def post(self, survey_id):
        """Publish a draft: it accepts responses between its dates (survey.opened)."""
        return survey_out(services.open_survey(store(), actor(), survey_id))


@surveys.route("/<survey_id>/close")
class SurveyClose(MethodView):
    @surveys.doc(security=BEARER)
    @surveys.response(200, s.SurveySchema)
    def post(self, survey_id):
        """Stop accepting responses (survey.closed)."""
        return survey_out(services.close_survey(store(), actor(), survey_id))


@surveys.route("/<survey_id>/responses")
class SurveyResponses(MethodView):
    @surveys.doc(security=BEARER)
    @surveys.arguments(s.ResponseListArgsSchema, location="query")
    @surveys.response(200, s.ResponsePageSchema)
    def get(self, args, survey_id):
        """Identified responses from the asker's branch, newest first (staff; anonymous ones are only in the
        results)."""
        found, cursor = services.list_responses(store(), actor(), survey_id, branch_id=args.get("branch_id"),
                                                after=args.get("after"), limit=args["limit"])
        return {"items": [response_out(d) for d in found], "next_cursor": cursor}

    @surveys.doc(security=BEARER)
    @surveys.arguments(s.ResponseCreateSchema)
    @surveys.response(201, s.ResponseSchema)
    def post(self, body, survey_id):
        """Answer a survey, once per person; staff entering a client's answers give `on_behalf_of` and the
        channel."""
        return response_out(services.submit_response(store(), actor(), survey_id, **body))


@surveys.route("/<survey_id>/results")
class SurveyResults(MethodView):
    @surveys.doc(security=BEARER)
    @surveys.response(200, s.SurveyResultsSchema)
    def get(self, survey_id):
        """Figures per question (staff), shown from 5 responses on."""
        return services.survey_results(store(), actor(), survey_id)


# --- quick feedback and replies ----------------------------------------------------------------------------

feedback = Blueprint("feedback", __name__, url_prefix="/feedback",
                     description="Quick feedback: a rating of a branch or a program, with a comment, any time")


@feedback.route("")
class QuickFeedback(MethodView):
    @feedback.doc(security=BEARER)
    @feedback.arguments(s.QuickListArgsSchema, location="query")
    @feedback.response(200, s.ResponsePageSchema)
    def get(self, args):
        """Quick feedback on a branch, newest first (its staff)."""
        found, cursor = services.list_quick(store(), actor(), branch_id=args.get("branch_id"),
                                            after=args.get("after"), limit=args["limit"])
        return {"items": [response_out(d) for d in found], "next_cursor": cursor}

    @feedback.doc(security=BEARER)
    @feedback.arguments(s.QuickFeedbackCreateSchema)
    @feedback.response(201, s.ResponseSchema)
    def post(self, body):
        """Rate a branch or a program from 1 to 5, with an optional comment."""
        return response_out(services.quick_feedback(store(), actor(), **body))


responses = Blueprint("responses", __name__, url_prefix="/responses",
                      description="A response or quick feedback, and staff replies to it")


@responses.route("/<response_id>")
class ResponseItem(MethodView):
    @responses.doc(security=BEARER)
    @responses.response(200, s.ResponseSchema)
    def get(self, response_id):
        """Your feedback, or identified feedback of your branch (staff)."""
        return response_out(services.my_feedback(store(), actor(), response_id))


@responses.route("/<response_id>/replies")
class Replies(MethodView):
    @responses.doc(security=BEARER)
    @responses.response(200, s.ReplyListSchema)
    def get(self, response_id):
        """Staff replies, oldest first (the respondent and the branch's staff)."""
        return {"items": services.replies(store(), actor(), response_id)}

    @responses.doc(security=BEARER)
    @responses.arguments(s.ReplyCreateSchema)
    @responses.response(201, s.ReplySchema)
    def post(self, body, response_id):
        """Reply to identified feedback (staff of its branch); the respondent is told (feedback.replied)."""
        return services.reply(store(), actor(), response_id, **body)


# --- insights ------------------------------------------------------------------------------------------

insights = Blueprint("insights", __name__, url_prefix="/insights",
                     description="Read models kept up to date as feedback and ideas events arrive")


@insights.route("/satisfaction")
class Satisfaction(MethodView):
    @insights.doc(security=BEARER)
    @insights.arguments(s.SatisfactionArgsSchema, location="query")
    @insights.response(200, s.SatisfactionSchema)
    def get(self, args):
        """CSAT, NPS, quick ratings and outcome answers for a scope, months and segment filter (`unknown`: not
        given), optionally in rows `by` a dimension; cells with fewer than 5 people are only `suppressed`."""
        return services.satisfaction(store(), actor(), scope=args["scope"], months=_months(args),
                                     flt=_filter_of(args), by=args.get("by"))


@insights.route("/themes")
class Themes(MethodView):
    @insights.doc(security=BEARER)
    @insights.arguments(s.ThemesArgsSchema, location="query")
    @insights.response(200, s.ThemesSchema)
    def get(self, args):
        """The top themes (keywords and two-word phrases in Hebrew and English) of the free text of a scope's
        feedback, for everyone or one age or population group, with a per-month trend; a theme raised by fewer
        than 5 distinct people is not listed."""
        return services.themes(store(), actor(), scope=args["scope"], months=_months(args),
                               age_group=_group_arg(args.get("age_group")),
                               population_group=_group_arg(args.get("population_group")), limit=args["limit"])


@insights.route("/ideas")
class IdeaInsights(MethodView):
    @insights.doc(security=BEARER)
    @insights.arguments(s.IdeaInsightsArgsSchema, location="query")
    @insights.response(200, s.IdeaInsightsSchema)
    def get(self, args):
        """The idea funnel, lead times (median and 90th percentile, days) and participation."""
        scope = (f"branch:{args['branch_id']}" if args.get("branch_id")
                 else f"region:{args['region_id']}" if args.get("region_id") else "org")
        return services.idea_insights(store(), actor(), scope=scope, months=_months(args))


@insights.route("/branches")
class BranchComparison(MethodView):
    @insights.doc(security=BEARER)
    @insights.arguments(s.BranchComparisonArgsSchema, location="query")
    @insights.response(200, s.BranchComparisonSchema)
    def get(self, args):
        """For org admins: every branch (or a region's) side by side: satisfaction, NPS, quick ratings, outcome
        answers (each hidden under 5 people), the idea funnel and lead times; at most a minute behind."""
        return services.compare_branches(store(), actor(), months=_months(args), region_id=args.get("region_id"),
                                         sort=args["sort"], offset=args["offset"], limit=args["limit"])


@insights.route("/ambassadors")
class Ambassadors(MethodView):
    @insights.doc(security=BEARER)
    @insights.arguments(s.AmbassadorArgsSchema, location="query")
    @insights.response(200, s.AmbassadorsSchema)
    def get(self, args):
        """For the branch's staff: where its implemented ideas spread, the ideas it adopted, and its ambassadors
        (participants whose ideas it implemented) and top volunteers."""
        return services.spread_and_ambassadors(store(), actor(), branch_id=args["branch_id"])


@insights.route("/outcomes")
class Outcomes(MethodView):
    @insights.doc(security=BEARER)
    @insights.arguments(s.OutcomeArgsSchema, location="query")
    @insights.response(200, s.OutcomesSchema)
    def get(self, args):
        """An implemented idea's measured success (`idea_id`), or a branch's ideas and outcomes by age group."""
        return services.outcomes(store(), actor(), idea_id=args.get("idea_id"), branch_id=args.get("branch_id"),
                                 months=_months(args))


# --- exports ---------------------------------------------------------------------------------------------

exports = Blueprint("exports", __name__, url_prefix="/exports",
                    description="CSV, streamed, with the privacy threshold of the pages and the API")


def _csv(name: str, header, rows) -> Response:
    return Response(stream_with_context(csv_lines(header, rows)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


@exports.route("/surveys/<survey_id>/responses.csv")
class ResponsesCsv(MethodView):
    @exports.doc(security=BEARER)
    @exports.response(200, description="One row per response; no rows under 5 respondents; an age and "
                                       "population group only where 5 or more respondents share them",
                      content_type="text/csv")
    def get(self, survey_id):
        """A survey's responses (staff of its branch), streamed from the store."""
        header, rows = services.export_responses(store(), actor(), survey_id)
        return _csv(f"responses-{survey_id}", header, rows)


@exports.route("/satisfaction.csv")
class SatisfactionCsv(MethodView):
    @exports.doc(security=BEARER)
    @exports.arguments(s.SatisfactionArgsSchema, location="query")
    @exports.response(200, description="The satisfaction view as a table (the totals, then a row per value)",
                      content_type="text/csv")
    def get(self, args):
        """The satisfaction insights of /insights/satisfaction as CSV: the same cells, hidden the same way."""
        header, rows = services.export_satisfaction(store(), actor(), scope=args["scope"], months=_months(args),
                                                    flt=_filter_of(args), by=args.get("by"))
        return _csv("satisfaction", header, rows)


@exports.route("/branches.csv")
class BranchesCsv(MethodView):
    @exports.doc(security=BEARER)
    @exports.arguments(s.BranchesArgsSchema, location="query")
    @exports.response(200, description="A row per branch (all of them), as /insights/branches",
                      content_type="text/csv")
    def get(self, args):
        """The comparison of branches of /insights/branches as CSV: the same cells, hidden the same way."""
        header, rows = services.export_branches(store(), actor(), months=_months(args),
                                                region_id=args.get("region_id"), sort=args["sort"])
        return _csv("branches", header, rows)


blueprints = [surveys, feedback, responses, insights, exports]
