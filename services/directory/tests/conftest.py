"""Directory test set-up: passwords are hashed with argon2's cheapest profile (same code path, a fraction of
the cost), so a test may create many accounts."""
import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    monkeypatch.setattr("services.directory.services.hasher", PasswordHasher.from_parameters(CHEAPEST))
