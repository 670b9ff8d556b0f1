"""The guard that keeps user-supplied keys from becoming operators or paths in queries."""
import pytest

from shared.mongo import UnsafeKeyError, reject_unsafe_keys


@pytest.mark.parametrize("body, path", [
    ({"$where": "1"}, "$where"),
    ({"title": {"$gt": ""}}, "title.$gt"),
    ({"a.b": 1}, "a.b"),
    ({"tags": [{"ok": 1}, {"$ne": 1}]}, "tags[1].$ne"),
])
def test_operator_and_dotted_keys_are_refused_with_their_path(body, path):
    with pytest.raises(UnsafeKeyError) as caught:
        reject_unsafe_keys(body)
    assert caught.value.path == path


def test_ordinary_nested_data_passes_unchanged():
    body = {"title": "שלום $5", "name": {"he": "א", "en": "a.b"}, "tags": ["x", {"y": 1}]}
    assert reject_unsafe_keys(body) is body
