"""Settings from the environment: an installation's namespace sets its topics, consumer groups and databases
apart from another's on the same broker and store (the suite's own are "test.…")."""
from __future__ import annotations

import pytest
from environs import Env, EnvError

from shared.config import load_settings


def settings_with(monkeypatch, **variables):
    for name in ("COCREATE_NAMESPACE", "MONGO_DB"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return load_settings("ideas", env=Env())


def test_without_a_namespace_the_names_are_the_contracts(monkeypatch):
    s = settings_with(monkeypatch)
    assert (s.topic("cocreate.ideas"), s.group("ideas"), s.mongo_db) == ("cocreate.ideas", "ideas", "cocreate_ideas")


def test_a_namespace_prefixes_topics_groups_and_the_default_database(monkeypatch):
    s = settings_with(monkeypatch, COCREATE_NAMESPACE="demo-2")
    assert (s.topic("cocreate.ideas"), s.group("ideas"), s.mongo_db) == (
        "demo-2.cocreate.ideas", "demo-2.ideas", "demo-2_cocreate_ideas")
    assert settings_with(monkeypatch, COCREATE_NAMESPACE="demo-2", MONGO_DB="ours").mongo_db == "ours"


@pytest.mark.parametrize("bad", ["Test", "a.b", "a b", "$x"])
def test_a_namespace_is_lowercase_letters_digits_and_dashes(monkeypatch, bad):
    with pytest.raises(EnvError):
        settings_with(monkeypatch, COCREATE_NAMESPACE=bad)


def test_the_suite_runs_in_its_own_namespace(make_settings):
    assert make_settings("ideas").namespace == "test"
