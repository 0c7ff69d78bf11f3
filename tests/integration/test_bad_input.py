"""Bad input: whatever a frame holds, the dry run gives a problems table or a clear error,
never a crash; no invalid row is ever sent; and the input frame is never changed.

Frames are generated (hypothesis): wrong types, NaN and NA, numbers read as floats
(``8.61380000000e12``), huge strings, unicode edge cases (emoji sequences, right-to-left
overrides, NUL, lone surrogates), missing columns, duplicate and odd index labels. Each one
goes through ``validate_frame``, ``preview_frame`` and ``send_frame`` against an in-process
sandbox, which counts any request it has to refuse.
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import math
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cams_notebook import InvalidFrameError, preview_frame, send_frame, validate_frame
from cams_notebook.campaigns.frames import PROBLEM_COLUMNS
from cams_notebook.sandbox import Sandbox

pytestmark = pytest.mark.timeout(300)

CAMPAIGN: dict[str, Any] = {
    "channel_type": "whatsapp", "type": "template", "from_": "8613800000000",
    "template_code": "830174529611842305", "language": "en",
}
HUGE = "x" * 200_000
EDGE_TEXT = [
    "", " ", "nan", "None", "NaN", "null", "0", "-0", "8613900000001 ", " +86 139-0000-0002",
    "8.61390000003e12", "8613900000004.0", "١٢٣٤٥٦٧٨٩٠١٢٣",                  # Arabic-Indic digits
    "Ada 👩‍👩‍👧‍👦🏳️‍🌈", "🚚" * 600, "\u202eevil\u202c", "שלום עולם", "مرحبا",    # emoji, RTL
    "e\u0301" * 50, "\x00", "a\x00b", "\ufeffBOM", "line\u2028sep", "tab\tnew\nline\r",
    "a\ud800b", "\udfff", "{{1}}", '{"name": "Ada"}', "<script>alert(1)</script>",
    "%s%n%x", "' OR 1=1 --", HUGE, "A" * 1025,
]
NUMBERS = [8.61390000001e12, 8.6139000000012e12, 8613900000003.0, -8.6139e12, 1e17, 1e300,
           float("inf"), -0.0, 86139000000050, 2**70]


def cells() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(EDGE_TEXT),
        st.sampled_from(NUMBERS),
        st.sampled_from([None, float("nan"), pd.NA, pd.NaT, True, False]),
        st.text(max_size=12),
        st.text(alphabet=st.characters(categories=["Cs", "Cf", "Mn", "So", "Zs"]), max_size=6),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(),
        st.binary(max_size=12),
        st.lists(st.integers(0, 9), max_size=3),
        st.dictionaries(st.sampled_from(["name", "order_id", "x"]),
                        st.one_of(st.text(max_size=5), st.integers(), st.none()), max_size=3),
        st.datetimes(min_value=dt.datetime(1900, 1, 1)),
        st.decimals(allow_nan=False), st.just(decimal.Decimal("NaN")),  # sNaN breaks pandas itself
        st.complex_numbers(max_magnitude=1e6),
    )


COLUMNS = ["to", "name", "order_id", "template_params", "channel_type", "language", "note", 0,
           ("to", "x")]
INDEX_LABELS = [0, 1, 2, "a", "a", float("nan"), None, ("t", 1), -1, 2**70, "\u202e"]


@st.composite
def frames(draw: Callable[..., Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    rows = draw(st.integers(0, 6))
    columns = draw(st.lists(st.sampled_from(COLUMNS), unique=True, min_size=0, max_size=6))
    # the usual columns are usually there, so rows get as far as the template check
    for wanted in ("to", "name", "order_id"):
        if wanted not in columns and draw(st.integers(0, 3)):
            columns.append(wanted)
    data = {c: [draw(cells()) if draw(st.integers(0, 2)) else _plausible(c, i) for i in range(rows)]
            for c in columns}
    frame = pd.DataFrame(data, columns=pd.Index(columns, dtype=object, tupleize_cols=False))
    kind = draw(st.sampled_from(["range", "labels", "duplicates", "multi"]))
    if kind == "labels" and rows:
        frame.index = pd.Index(draw(st.lists(st.sampled_from(INDEX_LABELS), min_size=rows,
                                             max_size=rows)), dtype=object, tupleize_cols=False)
    elif kind == "duplicates" and rows:
        frame.index = pd.Index([7] * rows)
    elif kind == "multi" and rows:
        frame.index = pd.MultiIndex.from_tuples([("a", i % 2) for i in range(rows)])
    constants = dict(CAMPAIGN)
    for field in ("channel_type", "language"):  # a column and a constant: an error, now and then
        if field in columns and draw(st.integers(0, 3)):
            del constants[field]
    if "name" in columns and "order_id" in columns and draw(st.booleans()):
        constants["params"] = ["name", "order_id"]
    return frame, constants


def _plausible(column: Any, i: int) -> Any:
    return {"to": f"86139{i:08d}", "name": "Ada", "order_id": f"A-{i}",
            "template_params": '{"name": "Ada", "order_id": "A-1"}', "channel_type": "whatsapp",
            "language": "en"}.get(column, "n/a") if isinstance(column, str) else "n/a"


def clear(error: BaseException) -> bool:
    """A clear error: one a user can act on, raised on purpose, with a message."""
    return (isinstance(error, (ValueError, TypeError)) and not isinstance(error, UnicodeError)
            and bool(str(error).strip()))


def check_frame(frame: pd.DataFrame, constants: dict[str, Any]) -> str:
    """The dry run, a preview and a send of ``frame``: the promises of this module.

    Returns what happened, for hypothesis's statistics.
    """
    snapshot = copy.deepcopy(frame)
    sandbox = Sandbox(qps=100_000, receipt_delay=0.0)
    client = sandbox.client()

    try:
        problems = validate_frame(frame, client=client, **constants)
    except Exception as error:  # noqa: BLE001 - the point is what it is
        assert clear(error), f"validate_frame crashed: {error!r}"
        problems = None
    else:
        assert list(problems.columns) == PROBLEM_COLUMNS
        assert set(problems["severity"]) <= {"error", "warning"}
    same(frame, snapshot)

    try:
        preview_frame(frame, client=client, **constants)
    except Exception as error:  # noqa: BLE001
        assert clear(error), f"preview_frame crashed: {error!r}"
    same(frame, snapshot)

    try:
        result = send_frame(frame, client=client, qps=100_000, sender_mps=None, journal=False,
                            progress=False,
                            on_invalid="skip", **constants)
    except Exception as error:  # noqa: BLE001
        assert clear(error), f"send_frame crashed: {error!r}"
        assert problems is None, f"validate_frame passed, send_frame raised {error!r}"
        assert sandbox.messages() == []
        same(frame, snapshot)
        return f"refused: {type(error).__name__}"
    same(frame, snapshot)
    assert problems is not None and len(result) == len(frame)
    assert list(result.index) == list(frame.index) or (
        frame.index.hasnans and len(result.index) == len(frame.index))
    # no invalid row is sent, and nothing invalid even reaches the service
    status = result["status"].tolist()
    invalid = {p for p in range(len(frame)) if status[p] == "invalid"}
    with_errors = errors_by_position(frame, client, constants)
    assert invalid == with_errors, (invalid, with_errors, problems.to_dict("records"))
    assert set(status) <= {"sent", "invalid"}, result[["status", "error"]].to_dict("records")
    assert sandbox.core.stats["rejected"] == 0
    accepted = {m["message_id"] for m in sandbox.messages()}
    assert accepted == {m for m, s in zip(result["message_id"], status, strict=True)
                        if s == "sent"}

    # the same frame with on_invalid="raise": refused as a whole, or sent as a whole
    sandbox.reset()
    try:
        again = send_frame(frame, client=client, qps=100_000, sender_mps=None, journal=False,
                            progress=False,
                           **constants)
    except InvalidFrameError as error:
        assert with_errors and sandbox.messages() == []
        assert set(error.problems["severity"]) <= {"error", "warning"}
    else:
        assert not with_errors and set(again["status"]) <= {"sent"}
    same(frame, snapshot)
    sent = status.count("sent")
    return "all sent" if sent == len(status) else "some sent" if sent else "none sent"


def errors_by_position(frame: pd.DataFrame, client: Any, constants: dict[str, Any]) -> set[int]:
    """Positions of the rows the dry run finds errors in.

    Asked of a copy with a plain 0..n-1 index: the problems table names rows by their
    label, which cannot tell apart rows whose labels repeat.
    """
    problems = validate_frame(frame.reset_index(drop=True), client=client, **constants)
    return {int(i) for i in problems.loc[problems["severity"] == "error", "index"]}


def _both_nan(a: Any, b: Any) -> bool:
    """Both missing: the problems table shows a None label as NaN (its column is numeric)."""
    def missing(x: Any) -> bool:
        return x is None or (isinstance(x, float) and math.isnan(x))
    return missing(a) and missing(b)


def same(frame: pd.DataFrame, snapshot: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(frame, snapshot, check_exact=True)
    for column in range(frame.shape[1]):  # cells holding dicts or lists were not changed inside
        for a, b in zip(frame.iloc[:, column], snapshot.iloc[:, column], strict=True):
            assert type(a) is type(b) and repr(a) == repr(b)


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.large_base_example])
@given(frames())
def test_any_frame_gives_problems_or_a_clear_error_and_never_sends_an_invalid_row(
        case: tuple[pd.DataFrame, dict[str, Any]]) -> None:
    frame, constants = case
    outcome = check_frame(frame, constants)
    event(outcome)


# -- the cases named in the issue, one by one ---------------------------------------------------

PARAMS = {**CAMPAIGN, "params": ["name", "order_id"]}
NAMED: dict[str, tuple[pd.DataFrame, dict[str, Any]]] = {
    "numbers read as floats": (pd.DataFrame({
        "to": [8.61390000001e12, 8.6139000000012e12, float("nan"), 8613900000003.0],
        "name": "Ada", "order_id": ["A-1", "A-2", "A-3", "A-4"]}), PARAMS),
    "NaN and NA everywhere": (pd.DataFrame({
        "to": [float("nan"), pd.NA, None, "8613900000001"],
        "name": [pd.NA, "Ada", float("nan"), "Ada"],
        "order_id": [None, "A", "A", pd.NaT]}), PARAMS),
    "wrong types": (pd.DataFrame({
        "to": [True, b"8613900000002", ["8613900000003"], {"n": 1}, 3 + 4j,
               decimal.Decimal(8613900000006), dt.date(2020, 1, 1)],
        "name": "Ada", "order_id": "A"}), PARAMS),
    "emoji and right-to-left text": (pd.DataFrame({
        "to": ["8613900000001", "8613900000002", "8613900000003"],
        "name": ["👩‍👩‍👧‍👦 Ada", "\u202eadA\u202c", "שלום"], "order_id": ["🚚", "١٢٣", "e\u0301"]}),
        PARAMS),
    "huge strings": (pd.DataFrame({"to": ["8613900000001", HUGE], "name": [HUGE, "Ada"],
                                   "order_id": "A"}), PARAMS),
    "a lone surrogate (text decoded with surrogateescape)": (pd.DataFrame({
        "to": ["8613900000001", "8613900000002"], "name": ["Ada", "a\udce9b"],
        "order_id": "A"}), PARAMS),
    "a lone surrogate in JSON variables": (pd.DataFrame({
        "to": ["8613900000001"], "template_params": ['{"name": "\\ud800", "order_id": "A"}']}),
        CAMPAIGN),
    "NUL and control characters": (pd.DataFrame({
        "to": ["8613900000001", "86139\x0000002"], "name": ["a\x00b", "\x1b[31mred"],
        "order_id": "A"}), PARAMS),
    "missing columns": (pd.DataFrame({"name": ["Ada"], "order_id": ["A"]}), PARAMS),
    "a column named in params that is missing": (pd.DataFrame({"to": ["8613900000001"]}), PARAMS),
    "no columns at all": (pd.DataFrame(index=[0, 1]), CAMPAIGN),
    "no rows": (pd.DataFrame({"to": [], "name": [], "order_id": []}), PARAMS),
    "a duplicate index": (pd.DataFrame({
        "to": ["8613900000001", "8613900000001", "8613900000002"], "name": "Ada",
        "order_id": ["A", "A", "B"]}, index=[1, 1, 1]), PARAMS),
    "a NaN index label": (pd.DataFrame({"to": ["8613900000001", "8613900000002"], "name": "Ada",
                                        "order_id": "A"}, index=[float("nan"), float("nan")]),
                          PARAMS),
    "a duplicate MultiIndex": (pd.DataFrame({"to": ["8613900000001", "x"], "name": "Ada",
                                             "order_id": "A"},
                                            index=pd.MultiIndex.from_tuples([("a", 1), ("a", 1)])),
                               PARAMS),
    "a column and a constant for one field": (pd.DataFrame({
        "to": ["8613900000001"], "name": "Ada", "order_id": "A", "language": ["en"]}), PARAMS),
    "a column twice": (pd.DataFrame([["8613900000001", "8613900000002", "Ada", "A"]],
                                    columns=["to", "to", "name", "order_id"]), PARAMS),
    "a template_params column of dicts": (pd.DataFrame({
        "to": ["8613900000001", "8613900000002"],
        "template_params": [{"name": "Ada", "order_id": 1.0}, {"name": None, "order_id": "A"}]}),
        CAMPAIGN),
    "JSON that is not an object": (pd.DataFrame({
        "to": ["8613900000001"] * 4, "template_params": ["{", "[1]", "null", '"text"']}), CAMPAIGN),
    "a categorical and a datetime column": (pd.DataFrame({
        "to": pd.Categorical(["8613900000001", "8613900000002"]),
        "name": pd.to_datetime(["2020-01-01", None]), "order_id": "A"}), PARAMS),
}


@pytest.mark.parametrize("case", list(NAMED))
def test_named_bad_input_gives_problems_or_a_clear_error_and_never_sends_an_invalid_row(
        case: str) -> None:
    frame, constants = NAMED[case]
    check_frame(frame, constants)


def test_a_lone_surrogate_is_a_problem_of_its_row_not_an_encoding_crash() -> None:
    frame = pd.DataFrame({"to": ["8613900000001", "8613900000002"], "name": ["Ada", "a\udce9b"],
                          "order_id": "A"})
    problems = validate_frame(frame, **PARAMS)
    assert set(problems.loc[problems["severity"] == "error", "index"]) == {1}


def test_a_column_given_twice_is_an_error_not_a_silent_choice() -> None:
    frame = pd.DataFrame([["8613900000001", "8613900000002", "Ada", "A"]],
                         columns=["to", "to", "name", "order_id"])
    with pytest.raises(ValueError, match="'to'"):
        validate_frame(frame, **PARAMS)


@pytest.mark.parametrize("source", [None, "to,name\n1,2", 42, {"to": ["8613900000001"]},
                                    [{"to": "8613900000001"}], iter([{"to": "1"}])])
def test_something_that_is_not_a_frame_is_a_type_error(source: Any) -> None:
    sandbox = Sandbox()
    with pytest.raises(TypeError, match="DataFrame"):
        send_frame(source, client=sandbox.client(), progress=False, journal=False, **PARAMS)
    assert sandbox.messages() == []


def test_chunks_with_different_columns_are_a_value_error_after_the_first_chunk() -> None:
    sandbox = Sandbox()
    first = pd.DataFrame({"to": ["8613900000001"], "name": "Ada", "order_id": "A"})
    second = pd.DataFrame({"to": ["8613900000002"], "name": "Ada"})
    with pytest.raises(ValueError, match="same columns"):
        send_frame(iter([first, second]), client=sandbox.client(), progress=False, journal=False,
                   **PARAMS)
    assert [m["to"] for m in sandbox.messages()] in ([], ["8613900000001"])  # the first chunk's


# -- numbers written as floats, digits that are not ASCII, a request too long to send -------


def test_numbers_read_back_as_float_text_go_to_the_same_person_never_one_digit_more() -> None:
    frame = pd.DataFrame({"to": ["8613900000001.0", "8.613900000002e12", "8613900000003.5",
                                 "８６１３９００００００００４", "٨٦١٣٩٠٠٠٠٠٠٠٥",
                                 "+1 (555) 010.0001"],
                          "name": "Ada", "order_id": "A"})
    sandbox = Sandbox(qps=100_000, receipt_delay=0.0)
    problems = validate_frame(frame, **PARAMS)
    assert set(problems.loc[problems["severity"] == "error", "index"]) == {2, 3, 4}
    assert set(problems["code"]) >= {"InvalidParameter.ToOnlyNumeric"}
    result = send_frame(frame, client=sandbox.client(), qps=100_000, sender_mps=None,
                        journal=False,
                        progress=False, on_invalid="skip", **PARAMS)
    assert result["status"].tolist() == ["sent", "sent", "invalid", "invalid", "invalid", "sent"]
    assert sorted(m["to"] for m in sandbox.messages()) == [
        "15550100001", "8613900000001", "8613900000002"]
    assert sandbox.core.stats["rejected"] == 0


def test_a_float_column_reaches_the_message_as_its_whole_number() -> None:
    # batch.normalise_cell turns numpy float64 8613900000001.0 into int 8613900000001
    frame = pd.DataFrame({"to": [8613900000001.0, 8613900000002.0], "name": "Ada",
                          "order_id": "A"})
    assert str(frame["to"].dtype) == "float64"
    sandbox = Sandbox(qps=100_000, receipt_delay=0.0)
    result = send_frame(frame, client=sandbox.client(), qps=100_000, sender_mps=None,
                        journal=False,
                        progress=False, **PARAMS)
    assert result["status"].tolist() == ["sent", "sent"]
    assert sorted(m["to"] for m in sandbox.messages()) == ["8613900000001", "8613900000002"]


def test_a_row_too_long_to_send_is_invalid_not_unknown_and_never_leaves() -> None:
    frame = pd.DataFrame({"to": ["psid-1", "psid-2"],
                          "content": ['{"text":"hi"}', '{"text":"' + "é" * 20_000 + '"}']})
    free_form = {"channel_type": "messenger", "type": "message", "message_type": "text",
                 "from_": "page-1"}
    sandbox = Sandbox(qps=100_000, receipt_delay=0.0)
    problems = validate_frame(frame, **free_form)
    assert problems[["index", "field", "rule", "code"]].to_dict("records") == [
        {"index": 1, "field": "Content", "rule": "too_long",
         "code": "InvalidParameter.ContentError"}]
    result = send_frame(frame, client=sandbox.client(), qps=100_000, sender_mps=None,
                        journal=False,
                        progress=False, on_invalid="skip", **free_form)
    assert result["status"].tolist() == ["sent", "invalid"]
    assert [m["to"] for m in sandbox.messages()] == ["psid-1"]
