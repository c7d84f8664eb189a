"""Properties of the parameter parser over any JSON value: a value within bounds, or a clear 400."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.server.http.errors import ApiError
from backend.server.http.params import choice, flag, integer, optional_text, required_text

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
# Text an HTTP client may send for a number: digits, signs, spaces, underscores, and very long ones.
NUMBER_TEXT = st.one_of(st.integers().map(str), st.text(alphabet="0123456789-+_ ", max_size=12),
                        st.integers(min_value=1, max_value=6000).map(lambda n: "9" * n))
SETTINGS = settings(max_examples=300, deadline=None)
LARGEST_BIGINT = 2**63 - 1  # what PostgreSQL's LIMIT and OFFSET take


def _refused(exc: ApiError) -> None:
    assert exc.status == 400 and exc.code in ("missing_parameter", "invalid_parameter") and exc.message


@SETTINGS
@given(value=st.one_of(JSON, NUMBER_TEXT), low=st.integers(-5, 5), span=st.none() | st.integers(0, 10**6))
def test_integer_is_within_its_bounds_or_refused(value, low: int, span: int | None) -> None:
    high = None if span is None else low + span
    try:
        got = integer({"n": value}, "n", low, low, high)
    except ApiError as exc:
        _refused(exc)
        return
    assert type(got) is int and got >= low and (high is None or got <= high)
    if value not in (None, ""):
        assert got == int(value)


@SETTINGS
@given(value=st.integers(min_value=0, max_value=LARGEST_BIGINT))
def test_every_integer_in_bounds_is_accepted(value: int) -> None:
    assert integer({"n": value}, "n", 0, 0, None) == integer({"n": str(value)}, "n", 0, 0, None) == value


@SETTINGS
@given(value=st.integers(min_value=LARGEST_BIGINT + 1))
def test_an_unbounded_integer_beyond_what_the_database_takes_is_refused(value: int) -> None:
    with pytest.raises(ApiError):
        integer({"offset": value}, "offset", 0, 0, None)


@SETTINGS
@given(value=JSON)
def test_flag_is_a_bool_or_refused(value) -> None:
    try:
        got = flag({"f": value}, "f")
    except ApiError as exc:
        _refused(exc)
        return
    assert got is (value is True or (isinstance(value, str) and value.lower() in ("1", "true", "yes")))


@SETTINGS
@given(value=JSON, allowed=st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=4, unique=True))
def test_choice_is_one_of_the_allowed_or_refused(value, allowed: list[str]) -> None:
    try:
        got = choice({"c": value}, "c", tuple(allowed), allowed[0])
    except ApiError as exc:
        _refused(exc)
        return
    assert got in allowed


@SETTINGS
@given(value=JSON)
def test_text_is_text_or_refused(value) -> None:
    for read in (required_text, optional_text):
        try:
            got = read({"t": value}, "t")
        except ApiError as exc:
            _refused(exc)
            continue
        assert got is None or (isinstance(got, str) and got == value and got != "")
