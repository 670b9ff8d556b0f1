"""HTTP shapes of the feedback API (marshmallow): they validate input and document the API."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from services.feedback.domain import (AGE_GROUPS, CHANNELS, MAX_ANSWER, MAX_INTRO, MAX_OPTION, MAX_OPTIONS,
                                      MAX_QUESTION, MAX_QUESTIONS, MAX_REPLY, MAX_TITLE, QUESTION_TYPES)
from services.feedback.comparison import PERIODS, SORTS as COMPARISON_SORTS
from shared.schemas import CursorArgsSchema, CursorPageSchema, StrictSchema, Text

ID = validate.Length(1, 64)
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
CODE = validate.Regexp(CODE_PATTERN, error="1-32 letters, digits, '-' or '_'.")
UNKNOWN = "unknown"  # a filter value: people who did not give the attribute
SURVEY_STATUSES = ("draft", "open", "closed")
MONTHS_PATTERN = r"^(20[0-9]{2}(0[1-9]|1[0-2]))(,20[0-9]{2}(0[1-9]|1[0-2])){0,35}$"
BY = ("age_group", "population_group", "channel", "program", "month")
SCOPE_PATTERN = r"^(org|branch:[A-Za-z0-9_-]{1,64}|region:[A-Za-z0-9_-]{1,64})$"


def _localized(limit: int, minimum: int = 1):
    class LocalizedSchema(StrictSchema):
        he = Text(required=True, validate=validate.Length(minimum, limit))
        en = Text(required=True, validate=validate.Length(minimum, limit))
    LocalizedSchema.__name__ = f"Localized{limit}{'Optional' if minimum == 0 else ''}"
    return LocalizedSchema


TitleSchema, IntroSchema = _localized(MAX_TITLE), _localized(MAX_INTRO, 0)
QuestionTextSchema, OptionTextSchema = _localized(MAX_QUESTION), _localized(MAX_OPTION)


class LocalizedOutSchema(ma.Schema):
    he = ma.fields.String(required=True)
    en = ma.fields.String(required=True)


# --- surveys -----------------------------------------------------------------------------------------------

class OptionInSchema(StrictSchema):
    text = ma.fields.Nested(OptionTextSchema, required=True)


class QuestionInSchema(StrictSchema):
    """A question; its id (q1, q2, ...) and its options' ids (o1, o2, ...) are given by position."""

    type = ma.fields.String(required=True, validate=validate.OneOf(QUESTION_TYPES),
                            metadata={"description": "csat (1-5), nps (0-10), single or multiple choice, or text"})
    text = ma.fields.Nested(QuestionTextSchema, required=True)
    required = ma.fields.Boolean(load_default=True)
    options = ma.fields.List(ma.fields.Nested(OptionInSchema), load_default=list,
                             validate=validate.Length(max=MAX_OPTIONS),
                             metadata={"description": "2 to 20, for choice questions only"})
    max_choices = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1, MAX_OPTIONS),
                                    metadata={"description": "multiple choice: at most this many options"})


class SurveyCreateSchema(StrictSchema):
    title = ma.fields.Nested(TitleSchema, required=True)
    intro = ma.fields.Nested(IntroSchema, load_default=None, allow_none=True)
    branch_id = Text(load_default=None, allow_none=True, validate=ID,
                     metadata={"description": "the branch; null for a program or the whole organization"})
    program = Text(load_default=None, allow_none=True, validate=CODE, metadata={"description": "a program code"})
    questions = ma.fields.List(ma.fields.Nested(QuestionInSchema), required=True,
                               validate=validate.Length(1, MAX_QUESTIONS))
    opens_at = ma.fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=None,
                                       metadata={"description": "default: now"})
    closes_at = ma.fields.AwareDateTime(required=True, default_timezone=None)
    anonymous = ma.fields.Boolean(load_default=False,
                                  metadata={"description": "responses are stored without who gave them"})


class SurveyUpdateSchema(StrictSchema):
    title = ma.fields.Nested(TitleSchema)
    intro = ma.fields.Nested(IntroSchema, allow_none=True)
    program = Text(allow_none=True, validate=CODE)
    questions = ma.fields.List(ma.fields.Nested(QuestionInSchema), validate=validate.Length(1, MAX_QUESTIONS))
    opens_at = ma.fields.AwareDateTime(default_timezone=None)
    closes_at = ma.fields.AwareDateTime(default_timezone=None)
    anonymous = ma.fields.Boolean()
    version = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1),
                                metadata={"description": "the version you saw; a newer one is a conflict"})


class OptionOutSchema(ma.Schema):
    id = ma.fields.String(required=True)
    text = ma.fields.Nested(LocalizedOutSchema, required=True)


class QuestionOutSchema(ma.Schema):
    id = ma.fields.String(required=True)
    type = ma.fields.String(required=True)
    text = ma.fields.Nested(LocalizedOutSchema, required=True)
    required = ma.fields.Boolean(required=True)
    options = ma.fields.List(ma.fields.Nested(OptionOutSchema), required=True)
    max_choices = ma.fields.Integer(allow_none=True)


class SurveySchema(ma.Schema):
    id = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, metadata={"description": "survey, or outcome (of an implemented idea)"})
    scope = ma.fields.String(required=True, metadata={"description": "branch, program or org"})
    branch_id = ma.fields.String(allow_none=True)
    region_id = ma.fields.String(allow_none=True)
    program = ma.fields.String(allow_none=True)
    idea_id = ma.fields.String(allow_none=True)
    title = ma.fields.Nested(LocalizedOutSchema, required=True)
    intro = ma.fields.Nested(LocalizedOutSchema)
    questions = ma.fields.List(ma.fields.Nested(QuestionOutSchema), required=True)
    opens_at = ma.fields.DateTime(required=True)
    closes_at = ma.fields.DateTime(required=True)
    anonymous = ma.fields.Boolean(required=True)
    status = ma.fields.String(required=True)
    public_token = ma.fields.String(allow_none=True, metadata={
        "description": "staff only: the walk-in link is /feedback/api/v1/surveys/public/{public_token}"})
    invited = ma.fields.Integer(allow_none=True, metadata={"description": "outcome surveys: people invited"})
    created_by = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    version = ma.fields.Integer()


class SurveyListArgsSchema(CursorArgsSchema):
    branch_id = Text(validate=ID, metadata={"description": "the branch; omit for program and organization surveys"})
    status = ma.fields.String(validate=validate.OneOf(SURVEY_STATUSES))


class SurveyPageSchema(CursorPageSchema):
    items = ma.fields.List(ma.fields.Nested(SurveySchema), required=True)


# --- responses -----------------------------------------------------------------------------------------

class OnBehalfSchema(StrictSchema):
    """A client whose answers a staff member enters (in person, by phone, at a kiosk)."""

    person_id = Text(load_default=None, allow_none=True, validate=ID,
                     metadata={"description": "the client's person id if they have an account (then one response "
                                              "per person holds); null for a walk-in client"})
    consent = ma.fields.Boolean(required=True, metadata={"description": "the client agreed that staff enter it"})


class ResponseCreateSchema(StrictSchema):
    answers = ma.fields.Dict(keys=Text(validate=validate.Length(1, 40)), values=ma.fields.Raw(allow_none=True),
                             required=True, validate=validate.Length(max=MAX_QUESTIONS),
                             metadata={"description": "question id to answer: csat 1-5, nps 0-10, an option id, "
                                                      "a list of option ids, or a text of up to "
                                                      f"{MAX_ANSWER} characters"})
    channel = ma.fields.String(load_default="web", validate=validate.OneOf(CHANNELS))
    on_behalf_of = ma.fields.Nested(OnBehalfSchema, load_default=None, allow_none=True)


class AnswerSchema(ma.Schema):
    question_id = ma.fields.String(required=True)
    type = ma.fields.String(required=True)
    value = ma.fields.Raw(required=True, metadata={"description": "an integer, an option id, option ids or text"})


class ReplySchema(ma.Schema):
    id = ma.fields.String(required=True)
    by = ma.fields.String(required=True)
    by_name = ma.fields.String()
    text = ma.fields.String(required=True)
    at = ma.fields.DateTime(required=True)


class ResponseSchema(ma.Schema):
    id = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, metadata={"description": "survey, outcome or quick"})
    survey_id = ma.fields.String(allow_none=True)
    idea_id = ma.fields.String(allow_none=True)
    branch_id = ma.fields.String(allow_none=True)
    program = ma.fields.String(allow_none=True)
    channel = ma.fields.String(required=True)
    anonymous = ma.fields.Boolean(required=True)
    person_id = ma.fields.String(allow_none=True)
    entered_by = ma.fields.String(allow_none=True)
    answers = ma.fields.List(ma.fields.Nested(AnswerSchema), required=True)
    submitted_at = ma.fields.DateTime(required=True)
    replies = ma.fields.List(ma.fields.Nested(ReplySchema))


class ResponseListArgsSchema(CursorArgsSchema):
    branch_id = Text(validate=ID, metadata={"description": "for surveys without a branch: the branch responses are "
                                                           "from (org admins may omit it)"})


class ResponsePageSchema(CursorPageSchema):
    items = ma.fields.List(ma.fields.Nested(ResponseSchema), required=True)


class QuickFeedbackCreateSchema(StrictSchema):
    branch_id = Text(load_default=None, allow_none=True, validate=ID)
    program = Text(load_default=None, allow_none=True, validate=CODE)
    rating = ma.fields.Integer(required=True, strict=True, validate=validate.Range(1, 5))
    comment = Text(load_default=None, allow_none=True, validate=validate.Length(0, MAX_ANSWER))


class QuickListArgsSchema(CursorArgsSchema):
    branch_id = Text(validate=ID, metadata={"description": "the branch; omit for feedback on programs only"})


class ReplyCreateSchema(StrictSchema):
    text = Text(required=True, validate=validate.Length(1, MAX_REPLY))


class ReplyListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ReplySchema), required=True)


# --- insights ------------------------------------------------------------------------------------------

class MonthsArgsSchema(StrictSchema):
    months = Text(validate=validate.Regexp(MONTHS_PATTERN, error="Months as YYYYMM, comma separated (at most 36)."),
                  metadata={"description": "YYYYMM,YYYYMM,...; default: the last 12 months"})

    @ma.post_load
    def split(self, data, **_):
        if data.get("months"):
            data["months"] = sorted(set(data["months"].split(",")))
        return data


def _filter_value(pattern: str | None = None, choices=None):
    if choices is not None:
        return ma.fields.String(validate=validate.OneOf([*choices, UNKNOWN]))
    return Text(validate=validate.Regexp(pattern, error="1-32 letters, digits, '-' or '_'."))


class SatisfactionArgsSchema(MonthsArgsSchema):
    scope = Text(required=True, validate=validate.Regexp(SCOPE_PATTERN, error="org, branch:<id> or region:<id>."),
                 metadata={"description": "org, branch:<id> or region:<id>"})
    age_group = _filter_value(choices=AGE_GROUPS)
    population_group = _filter_value(CODE_PATTERN)
    channel = ma.fields.String(validate=validate.OneOf(CHANNELS))
    program = _filter_value(CODE_PATTERN)
    by = ma.fields.String(validate=validate.OneOf(BY), metadata={"description": "rows by this dimension"})


class ThemesArgsSchema(MonthsArgsSchema):
    scope = Text(required=True, validate=validate.Regexp(SCOPE_PATTERN, error="org, branch:<id> or region:<id>."),
                 metadata={"description": "org, branch:<id> or region:<id>"})
    age_group = _filter_value(choices=AGE_GROUPS)
    population_group = _filter_value(CODE_PATTERN)
    limit = ma.fields.Integer(load_default=10, validate=validate.Range(1, 50))


class ThemeMonthSchema(ma.Schema):
    month = ma.fields.String(required=True)
    suppressed = ma.fields.Boolean(required=True, metadata={"description": "1 to 4 people that month"})
    responses = ma.fields.Integer()


class ThemeSchema(ma.Schema):
    term = ma.fields.String(required=True, metadata={"description": "normalized keyword or two-word phrase"})
    label = ma.fields.String(required=True, metadata={"description": "as written (Hebrew final letters)"})
    responses = ma.fields.Integer(required=True, metadata={"description": "responses that raised it"})
    months = ma.fields.List(ma.fields.Nested(ThemeMonthSchema), required=True)


class ThemesSchema(ma.Schema):
    scope = ma.fields.String(required=True)
    months = ma.fields.List(ma.fields.String(), required=True)
    threshold = ma.fields.Integer(required=True)
    filters = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(allow_none=True))
    themes = ma.fields.List(ma.fields.Nested(ThemeSchema), required=True)


class RatingSchema(ma.Schema):
    answers = ma.fields.Integer(required=True)
    average = ma.fields.Float(allow_none=True)
    satisfied_share = ma.fields.Float(allow_none=True, metadata={"description": "share of 4 and 5"})
    median = ma.fields.Integer(allow_none=True)
    distribution = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


class NpsSchema(ma.Schema):
    answers = ma.fields.Integer(required=True)
    score = ma.fields.Float(allow_none=True, metadata={"description": "% promoters (9-10) - % detractors (0-6)"})
    promoters = ma.fields.Integer()
    passives = ma.fields.Integer()
    detractors = ma.fields.Integer()


class SectionSchema(ma.Schema):
    """Figures of one kind of feedback in one cell; only `suppressed: true` when fewer than the threshold of
    distinct people stand behind them."""

    suppressed = ma.fields.Boolean(required=True)
    people = ma.fields.Integer(metadata={"description": "distinct people (over several months: the largest month)"})
    responses = ma.fields.Integer()
    csat = ma.fields.Nested(RatingSchema)
    nps = ma.fields.Nested(NpsSchema)
    answers = ma.fields.Integer()
    average = ma.fields.Float(allow_none=True)
    satisfied_share = ma.fields.Float(allow_none=True)
    positive_share = ma.fields.Float(allow_none=True)
    median = ma.fields.Integer(allow_none=True)
    positive = ma.fields.Integer()
    distribution = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


class SectionsSchema(ma.Schema):
    surveys = ma.fields.Nested(SectionSchema, required=True)
    quick = ma.fields.Nested(SectionSchema, required=True)
    outcomes = ma.fields.Nested(SectionSchema, required=True)


class SectionsRowSchema(SectionsSchema):
    value = ma.fields.String(allow_none=True, metadata={"description": "the row's value; null: not given"})


class SatisfactionSchema(ma.Schema):
    scope = ma.fields.String(required=True)
    months = ma.fields.List(ma.fields.String(), required=True)
    threshold = ma.fields.Integer(required=True)
    by = ma.fields.String(allow_none=True)
    filters = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(allow_none=True))
    totals = ma.fields.Nested(SectionsSchema, required=True)
    rows = ma.fields.List(ma.fields.Nested(SectionsRowSchema), required=True)


class IdeaInsightsArgsSchema(MonthsArgsSchema):
    branch_id = Text(validate=ID)
    region_id = Text(validate=ID, metadata={"description": "org admins; omit both for the organization"})


class LeadTimeSchema(ma.Schema):
    ideas = ma.fields.Integer(required=True)
    median_days = ma.fields.Integer(allow_none=True)
    p90_days = ma.fields.Integer(allow_none=True)


class LeadTimesSchema(ma.Schema):
    first_response = ma.fields.Nested(LeadTimeSchema, required=True,
                                      metadata={"description": "submitted to the first official response"})
    planned = ma.fields.Nested(LeadTimeSchema, required=True, metadata={"description": "submitted to planned"})
    implemented = ma.fields.Nested(LeadTimeSchema, required=True, metadata={"description": "planned to implemented"})


class ParticipationMonthSchema(ma.Schema):
    month = ma.fields.String(required=True)
    submitted = ma.fields.Integer()
    voted = ma.fields.Integer()
    commented = ma.fields.Integer()
    answered = ma.fields.Integer()
    rated = ma.fields.Integer()
    any = ma.fields.Integer()
    share_of_registered = ma.fields.Float(allow_none=True)


class ParticipationSchema(ma.Schema):
    registered = ma.fields.Integer(required=True)
    months = ma.fields.List(ma.fields.Nested(ParticipationMonthSchema), required=True)


class IdeaInsightsSchema(ma.Schema):
    scope = ma.fields.String(required=True)
    months = ma.fields.List(ma.fields.String(), required=True)
    funnel = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True)
    lead_times = ma.fields.Nested(LeadTimesSchema, required=True)
    participation = ma.fields.Nested(ParticipationSchema, required=True)


class BranchesArgsSchema(MonthsArgsSchema):
    region_id = Text(validate=ID, metadata={"description": "only the branches of this region"})
    sort = ma.fields.String(load_default="name", validate=validate.OneOf(COMPARISON_SORTS),
                            metadata={"description": "the column, best first (lead time: shortest first)"})


class BranchComparisonArgsSchema(BranchesArgsSchema):
    offset = ma.fields.Integer(load_default=0, validate=validate.Range(0, 100_000))
    limit = ma.fields.Integer(load_default=100, validate=validate.Range(1, 1_000))


class DashboardFiltersSchema(ma.Schema):
    """The dashboard page's filters as its form sends them: the period (months back, one of PERIODS), a channel
    and an age group (an empty choice: all). Other parameters of the page (its branch) are left to it."""

    class Meta:
        unknown = ma.EXCLUDE

    months = ma.fields.Integer(load_default=12, validate=validate.OneOf(PERIODS))
    channel = ma.fields.String(load_default=None, validate=validate.OneOf(CHANNELS))
    age_group = ma.fields.String(load_default=None, validate=validate.OneOf(AGE_GROUPS))

    @ma.pre_load
    def empty_is_all(self, data, **_):
        return {name: value for name, value in data.items() if value != ""}


class OrgFiltersSchema(DashboardFiltersSchema):
    """The comparison page's filters: the dashboard's, a region (empty: all), the order and the page."""

    region_id = ma.fields.String(load_default=None, validate=validate.Length(max=64))
    sort = ma.fields.String(load_default="name", validate=validate.OneOf(COMPARISON_SORTS))
    page = ma.fields.Integer(load_default=1, validate=validate.Range(1, 10_000))


class BranchRowSchema(SectionsSchema):
    branch_id = ma.fields.String(required=True)
    name = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), allow_none=True,
                          metadata={"description": "per language"})
    region_id = ma.fields.String(allow_none=True)
    funnel = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True,
                            metadata={"description": "the branch's ideas per status now"})
    lead_times = ma.fields.Nested(LeadTimesSchema, required=True)


class BranchComparisonSchema(ma.Schema):
    months = ma.fields.List(ma.fields.String(), required=True)
    region_id = ma.fields.String(allow_none=True)
    threshold = ma.fields.Integer(required=True)
    sort = ma.fields.String(required=True)
    as_of = ma.fields.String(allow_none=True, metadata={"description": "when the oldest figures shown were "
                                                                       "gathered (at most a minute behind)"})
    total = ma.fields.Integer(required=True, metadata={"description": "branches compared, on every page"})
    offset = ma.fields.Integer(required=True)
    branches = ma.fields.List(ma.fields.Nested(BranchRowSchema), required=True)


class AmbassadorArgsSchema(StrictSchema):
    branch_id = Text(required=True, validate=ID)


class SpreadSchema(ma.Schema):
    idea_id = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    adoptions = ma.fields.Integer(required=True)
    branches = ma.fields.List(ma.fields.String(), required=True, metadata={"description": "the adopting branches"})


class AmbassadorSchema(ma.Schema):
    person_id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    ideas_implemented = ma.fields.Integer(metadata={"description": "ambassadors: their ideas the branch implemented"})
    ideas = ma.fields.Integer(metadata={"description": "volunteers: the ideas they volunteer for"})


class AmbassadorsSchema(ma.Schema):
    branch_id = ma.fields.String(required=True)
    spread = ma.fields.List(ma.fields.Nested(SpreadSchema), required=True)
    adopted_from_elsewhere = ma.fields.Integer(required=True)
    ambassadors = ma.fields.List(ma.fields.Nested(AmbassadorSchema), required=True)
    volunteers = ma.fields.List(ma.fields.Nested(AmbassadorSchema), required=True)


class OutcomeArgsSchema(MonthsArgsSchema):
    idea_id = Text(validate=ID)
    branch_id = Text(validate=ID)


class OutcomeRowSchema(ma.Schema):
    age_group = ma.fields.String(allow_none=True)
    population_group = ma.fields.String(allow_none=True)
    outcomes = ma.fields.Nested(SectionSchema, required=True)


class OutcomeIdeaSchema(ma.Schema):
    idea_id = ma.fields.String(allow_none=True)
    survey_id = ma.fields.String(allow_none=True)
    survey_status = ma.fields.String(allow_none=True)
    title = ma.fields.Nested(LocalizedOutSchema)
    success = ma.fields.Nested(SectionSchema, required=True)


class OutcomesSchema(ma.Schema):
    """For an idea: its success and its rows; for a branch or the organization: its ideas and rows."""

    idea_id = ma.fields.String(allow_none=True)
    branch_id = ma.fields.String(allow_none=True)
    survey_id = ma.fields.String(allow_none=True)
    survey_status = ma.fields.String(allow_none=True)
    invited = ma.fields.Integer(allow_none=True)
    success = ma.fields.Nested(SectionSchema)
    scope = ma.fields.String()
    months = ma.fields.List(ma.fields.String())
    threshold = ma.fields.Integer()
    ideas = ma.fields.List(ma.fields.Nested(OutcomeIdeaSchema))
    implemented_with_outcome = ma.fields.Integer(metadata={"description": "ideas with enough answers to measure"})
    positive = ma.fields.Integer(metadata={"description": "of those, ideas with at least half positive answers"})
    positive_share = ma.fields.Float(allow_none=True)
    totals = ma.fields.Nested(SectionSchema)
    by_age_group = ma.fields.List(ma.fields.Nested(OutcomeRowSchema))
    by_population_group = ma.fields.List(ma.fields.Nested(OutcomeRowSchema))


class QuestionResultSchema(ma.Schema):
    question_id = ma.fields.String(required=True)
    type = ma.fields.String(required=True)
    answers = ma.fields.Integer(required=True)
    average = ma.fields.Float(allow_none=True)
    satisfied_share = ma.fields.Float(allow_none=True)
    median = ma.fields.Integer(allow_none=True)
    score = ma.fields.Float(allow_none=True)
    promoters = ma.fields.Integer()
    passives = ma.fields.Integer()
    detractors = ma.fields.Integer()
    distribution = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    options = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


class SurveyResultsSchema(ma.Schema):
    survey_id = ma.fields.String(required=True)
    threshold = ma.fields.Integer(required=True)
    suppressed = ma.fields.Boolean(required=True)
    responses = ma.fields.Integer(allow_none=True)
    questions = ma.fields.List(ma.fields.Nested(QuestionResultSchema), required=True)
