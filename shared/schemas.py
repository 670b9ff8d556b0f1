"""Schema pieces every service's HTTP layer shares: strict bodies, bounded text, cursor pagination."""
from __future__ import annotations

from typing import Any, Callable

import marshmallow as ma
from marshmallow import validate

MAX_TEXT = 10_000


class StrictSchema(ma.Schema):
    """Unknown fields are an error, not silently dropped: a typo must not look like success."""

    class Meta:
        unknown = ma.RAISE


class Text(ma.fields.String):
    """A string with an upper bound on its length (10,000 unless the field says less) and no NUL bytes;
    both rules are in the OpenAPI document too (maxLength, pattern)."""

    def __init__(self, *args, **kwargs):
        validators = kwargs.pop("validate", None)
        validators = list(validators) if isinstance(validators, (list, tuple)) else [validators] if validators else []
        validators.append(validate.Length(max=MAX_TEXT))
        if not any(isinstance(v, validate.Regexp) for v in validators):  # a field's own pattern says more
            validators.append(validate.Regexp(r"^[^\x00]*$", error="May not contain NUL."))
        super().__init__(*args, validate=validators, **kwargs)


class CursorArgsSchema(StrictSchema):
    after = Text(validate=validate.Length(1, 200),
                 metadata={"description": "The next_cursor of the previous page"})
    limit = ma.fields.Integer(load_default=20, validate=validate.Range(1, 100))


class CursorPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Dict(), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True,
                                   metadata={"description": "Pass as `after` for the next page; null at the end"})


def page_of(items: list, limit: int, cursor: Callable[[Any], str]) -> dict:
    """A page from a query that fetched limit + 1 rows: the extra row only tells that more follow."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_cursor": cursor(items[-1]) if more and items else None}
