"""Properties of the text rules every name, path and duration obeys (hypothesis): whatever
the text, the answer is the value or the field's ValidationError, never another exception;
nothing accepted holds a control character, and nothing accepted is other than ASCII where
the rule says so."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticError

from shared import names
from shared.errors import ValidationError
from shared.resources.schemas.resources import Seconds

RULES = [names.endpoint_or_deployment_name, names.asset_name, names.version, names.job_name,
         names.container_name, names.output_file_name]
# text near the rules' edges: valid names with something appended, prepended or inside
_alphabet = st.characters(codec="utf-8") | st.sampled_from("\n\r\t\x00\x7f\x85\u2028-_. aZ09")
_nearly = st.builds(lambda a, b, c: a + b + c, st.sampled_from(["", "abc", "nljob-1", "x.csv"]),
                    st.text(_alphabet, max_size=4), st.sampled_from(["", "abc", "1", "\n"]))
_text = st.one_of(st.text(_alphabet, max_size=70), _nearly)


def _has_control(value: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cs") for c in value)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__)
@settings(max_examples=400, deadline=None)
@given(value=_text)
def test_a_name_rule_answers_the_value_or_its_validation_error(rule, value):
    try:
        accepted = rule(value)
    except ValidationError:
        return
    assert accepted == value and value.isascii() and not _has_control(value)
    assert value == value.strip() or rule is names.output_file_name


@settings(max_examples=400, deadline=None)
@given(value=st.text(st.characters(codec="utf-8", exclude_categories=("Cs",))
                     | st.sampled_from("\x00\x1f\x7f\x9f"), max_size=30))
def test_check_text_refuses_exactly_the_control_characters(value):
    if _has_control(value):
        with pytest.raises(ValidationError) as err:
            names.check_text(value, "f")
        assert err.value.field == "f"
    else:
        assert names.check_text(value, "f") == value


_seconds = TypeAdapter(Seconds)


@settings(max_examples=600, deadline=None)
@given(value=st.one_of(
    st.text(st.characters(codec="utf-8") | st.sampled_from("PTHMS.0123456789١٣ſＭ"),
            max_size=14),
    st.builds(lambda h, m, s: f"PT{h}{m}{s}", st.sampled_from(["", "1H", "١H"]),
              st.sampled_from(["", "1M", "10M", "١M"]), st.sampled_from(["", "30S", "0.5S"])),
    st.integers(-10, 10_000)))
def test_durations_are_ascii_seconds_from_1_to_600(value):
    try:
        seconds = _seconds.validate_python(value)
    except PydanticError:
        return
    assert isinstance(seconds, int) and 1 <= seconds <= 600
    assert not isinstance(value, str) or value.isascii()
