"""Errors domain code and use cases raise; the web layer turns each into one problem+json status."""
from __future__ import annotations


def N_(message: str) -> str:
    """Mark a fixed message of domain code for translation and return it unchanged: the domain stays free
    of any locale, the catalogs pick the message up (`python -m shared.web.catalogs update`), and a page
    translates it when it shows the refusal (the API answers in English)."""
    return message


class DomainError(ValueError):
    """A rule of the domain refused the command (422), optionally naming the field at fault."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class Conflict(Exception):
    """A unique rule or a concurrent change refused the write (409)."""


class NotFound(LookupError):
    """The thing asked for does not exist, or is not visible to the asker (404)."""


class RateLimited(Exception):
    """Too many attempts (429); the client may try again after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after
