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
    """A string with an upper bound on its length (10,000 unless the field says less) and no NUL bytes."""

    def _deserialize(self, value: Any, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > MAX_TEXT:
            raise ma.ValidationError(f"Longer than {MAX_TEXT} characters.")
        if "\x00" in text:
            raise ma.ValidationError("May not contain NUL characters.")
        return text


class CursorArgsSchema(StrictSchema):
    after = Text(load_default=None, validate=validate.Length(1, 200),
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
