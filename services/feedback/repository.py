"""Feedback storage: collections, their indexes, and which of them carry an outbox."""
from shared.readmodels import BRANCH_INDEXES

OUTBOX_COLLECTIONS: list[str] = []
INDEXES = [*BRANCH_INDEXES]
