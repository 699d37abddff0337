import json

import pytest

from chalicelib.formats.json_limits import nesting_depth


@pytest.mark.parametrize(("value", "depth"), [
    (1, 0), ("[[{", 0), ([], 1), ({"a": [1, {"b": []}]}, 4), ([[["\\\"]]"]]], 3), ({"k[": "}}{{"}, 1),
])
def test_depth_of_json_texts_ignores_brackets_inside_strings(value, depth):
    assert nesting_depth(json.dumps(value).encode(), 10) == depth


def test_a_deep_text_is_counted_only_past_the_limit():
    assert nesting_depth(b"[" * 100_000, 32) == 33
    assert nesting_depth(b'"\\\\"' + b"[" * 5, 32) == 5  # an escaped backslash does not escape the closing quote
