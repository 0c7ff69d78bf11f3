"""Frame -> requests with no I/O: column mapping, cell rules, row keys and dry-run findings."""

from __future__ import annotations

import io
import json
from collections.abc import Hashable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cams_notebook.campaigns.plan import (
    FrameMapping,
    RowPlan,
    check_plans,
    plan_rows,
    template_requests,
)
from cams_notebook.sandbox import catalogue
from cams_notebook.templates import Template

ORDER_SHIPPED = "830174529611842305"  # variables: name, order_id
PENDING = "830174529611842995"  # not approved
SENDER = "8613800000000"
TEMPLATE = {"channel_type": "whatsapp", "type": "template", "from_": SENDER,
            "template_code": ORDER_SHIPPED, "language": "en"}
TEXT = {"channel_type": "whatsapp", "type": "message", "from_": SENDER, "message_type": "text",
        "content": {"text": "hello"}}
BLANKS = [None, np.nan, float("nan"), pd.NA, pd.NaT, ""]


def plan(frame: pd.DataFrame, campaign: str = "c", params: Any = None, key: str | None = None,
         keys_seen: dict[str, Hashable] | None = None, **constants: Any) -> list[RowPlan]:
    mapping = FrameMapping(list(frame.columns), constants, params, key)
    rows = ((r[0], r[1:]) for r in frame.itertuples(index=True, name=None))
    if keys_seen is None:
        return list(plan_rows(rows, mapping, campaign))
    return list(plan_rows(rows, mapping, campaign, keys_seen))


def query(p: RowPlan) -> dict[str, str]:
    assert p.message is not None, p.problems
    return p.message.to_query()


def rules(p: RowPlan) -> list[tuple[str, str]]:
    return [(x.field, x.rule) for x in p.problems]


def template(code: str = ORDER_SHIPPED, language: str = "en") -> Template:
    data = catalogue.find(code=code, language=language)
    assert data is not None
    return Template.model_validate(data)


# -- mapping rules -----------------------------------------------------------------------------


@pytest.mark.parametrize("columns", [
    {"to": "8613900000000", "template_code": ORDER_SHIPPED, "from_": SENDER},
    {"To": "8613900000000", "TemplateCode": ORDER_SHIPPED, "From": SENDER},
    {"to": "8613900000000", "template_code": ORDER_SHIPPED, "from": SENDER},
])
def test_a_column_named_in_snake_case_or_pascal_case_feeds_its_field(
        columns: dict[str, str]) -> None:
    [p] = plan(pd.DataFrame([columns]), channel_type="whatsapp", type="template", language="en")
    q = query(p)
    assert (q["To"], q["TemplateCode"], q["From"]) == ("8613900000000", ORDER_SHIPPED, SENDER)


def test_other_columns_are_ignored() -> None:
    [p] = plan(pd.DataFrame({"to": ["8613900000000"], "notes": ["VIP"], 3: [1]}), **TEXT)
    assert "notes" not in json.dumps(query(p))


def test_constants_apply_to_every_row() -> None:
    plans = plan(pd.DataFrame({"to": ["8613900000000", "8613900000001"]}), **TEXT)
    assert [query(p)["From"] for p in plans] == [SENDER, SENDER]
    assert [query(p)["ChannelType"] for p in plans] == ["whatsapp", "whatsapp"]


def test_an_unknown_constant_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="colour"):
        FrameMapping(["to"], {"colour": "blue"})


@pytest.mark.parametrize("column", ["from_", "From", "from"])
def test_a_constant_and_a_column_for_the_same_field_is_an_error(column: str) -> None:
    with pytest.raises(ValueError, match="both as column"):
        FrameMapping(["to", column], {"from_": SENDER})


def test_two_columns_for_the_same_field_is_an_error() -> None:
    with pytest.raises(ValueError, match="two columns feed To"):
        FrameMapping(["to", "To"], {})


def test_a_template_params_column_and_constant_is_an_error() -> None:
    with pytest.raises(ValueError, match="TemplateParams is given both"):
        FrameMapping(["to", "template_params"], {"template_params": {"name": "Ada"}})


def test_two_template_params_columns_is_an_error() -> None:
    with pytest.raises(ValueError, match="two columns feed TemplateParams"):
        FrameMapping(["to", "template_params", "TemplateParams"], {})


def test_params_and_a_template_params_constant_is_an_error() -> None:
    with pytest.raises(ValueError, match="params"):
        FrameMapping(["to", "name"], {"template_params": {"name": "Ada"}}, params=["name"])


def test_params_naming_a_column_not_in_the_frame_is_an_error() -> None:
    with pytest.raises(ValueError, match="'nom'"):
        FrameMapping(["to", "name"], {}, params={"name": "nom"})


def test_params_list_takes_each_variable_from_its_column() -> None:
    frame = pd.DataFrame({"to": ["8613900000000"], "name": ["Ada"], "order_id": ["A-1"]})
    [p] = plan(frame, params=["name", "order_id"], **TEMPLATE)
    assert json.loads(query(p)["TemplateParams"]) == {"name": "Ada", "order_id": "A-1"}


def test_params_mapping_takes_each_variable_from_the_named_column() -> None:
    frame = pd.DataFrame({"to": ["8613900000000"], "first": ["Ada"], "ref": ["A-1"]})
    [p] = plan(frame, params={"name": "first", "order_id": "ref"}, **TEMPLATE)
    assert json.loads(query(p)["TemplateParams"]) == {"name": "Ada", "order_id": "A-1"}


@pytest.mark.parametrize("column", ["template_params", "TemplateParams"])
def test_a_template_params_column_holds_dicts_or_json_text(column: str) -> None:
    frame = pd.DataFrame({"to": ["8613900000000", "8613900000001"],
                          column: [{"name": "Ada", "order_id": "A-1"},
                                   '{"name": "Bo", "order_id": "A-2"}']})
    plans = plan(frame, **TEMPLATE)
    assert [json.loads(query(p)["TemplateParams"]) for p in plans] == [
        {"name": "Ada", "order_id": "A-1"}, {"name": "Bo", "order_id": "A-2"}]


@pytest.mark.parametrize("cell", ['{"name": "Ada",', "[1, 2]", '"Ada"', "null"])
def test_unreadable_template_params_json_is_an_invalid_json_problem(cell: str) -> None:
    frame = pd.DataFrame({"to": ["8613900000000"], "template_params": [cell]})
    [p] = plan(frame, **TEMPLATE)
    assert not p.valid
    assert rules(p) == [("TemplateParams", "invalid_json")]


@pytest.mark.parametrize("blank", BLANKS, ids=repr)
def test_an_empty_cell_is_an_absent_value_never_the_text_nan(blank: Any) -> None:
    frame = pd.DataFrame({"to": ["8613900000000", blank], "cust_space_id": [blank, "cs-1"]},
                         dtype=object)
    first, second = plan(frame, **TEXT)
    assert "CustSpaceId" not in query(first)  # an optional field is left out
    assert rules(second) == [("To", "required")]  # a required one is missing
    assert "nan" not in json.dumps(query(first)).lower()


@pytest.mark.parametrize("blank", BLANKS, ids=repr)
def test_an_empty_variable_is_a_null_variable_problem(blank: Any) -> None:
    frame = pd.DataFrame({"to": ["8613900000000"], "name": [blank], "order_id": ["A-1"]},
                         dtype=object)
    [p] = plan(frame, params=["name", "order_id"], **TEMPLATE)
    assert rules(p) == [("TemplateParams.name", "null_variable")]
    assert p.problems[0].code == "InvalidParameter.TemplateParamsNull"
    assert p.fields["template_params"] == {"name": None, "order_id": "A-1"}


def test_an_empty_value_inside_a_params_dict_is_a_null_variable_problem() -> None:
    frame = pd.DataFrame({"to": ["8613900000000"],
                          "template_params": [{"name": np.nan, "order_id": "A-1"}]})
    [p] = plan(frame, **TEMPLATE)
    assert rules(p) == [("TemplateParams.name", "null_variable")]


def test_whole_number_floats_become_digits() -> None:
    # a phone column read from CSV with a gap in it is float64: 8.6139e12
    frame = pd.read_csv(io.StringIO("to,order_id\n8613900000000,1001\n,1002.0\n"))
    assert frame["to"].dtype == np.float64
    first, second = plan(frame, params=["order_id"], **TEMPLATE)
    q = query(first)
    assert q["To"] == "8613900000000"
    assert json.loads(q["TemplateParams"]) == {"order_id": "1001"}
    assert rules(second) == [("To", "required")]


def test_numbers_used_as_template_variables_become_text() -> None:
    frame = pd.DataFrame({"to": ["8613900000000"], "name": [np.int64(7)], "order_id": [2.5]})
    [p] = plan(frame, params=["name", "order_id"], **TEMPLATE)
    assert json.loads(query(p)["TemplateParams"]) == {"name": "7", "order_id": "2.5"}


def test_nullable_integer_columns_map_like_plain_ones() -> None:
    frame = pd.DataFrame({"to": pd.array([8613900000000, None], dtype="Int64")})
    first, second = plan(frame, **TEXT)
    assert query(first)["To"] == "8613900000000"
    assert rules(second) == [("To", "required")]


# -- keys and task ids -------------------------------------------------------------------------


def test_keys_and_task_ids_are_the_same_every_time_the_frame_is_planned() -> None:
    frame = pd.DataFrame({"to": ["8613900000000", "8613900000001"]})
    once, twice = plan(frame, **TEXT), plan(frame, **TEXT)
    assert [p.key for p in once] == [p.key for p in twice]
    assert [query(p)["TaskId"] for p in once] == [query(p)["TaskId"] for p in twice]
    assert len({p.key for p in once}) == 2


def test_the_task_id_names_the_campaign_and_the_row_unless_the_frame_gives_one() -> None:
    frame = pd.DataFrame({"to": ["8613900000000", "8613900000001"], "task_id": [None, "mine"]})
    derived, given = plan(frame, campaign="spring", **TEXT)
    assert query(derived)["TaskId"] == f"cn-spring-{derived.key[:16]}"
    assert query(given)["TaskId"] == "mine"


def test_a_duplicated_index_keeps_one_result_per_row() -> None:
    # pd.concat without ignore_index: labels repeat; the recipients do not
    frame = pd.concat([pd.DataFrame({"to": ["8613900000000", "8613900000001"]}),
                       pd.DataFrame({"to": ["8613900000002", "8613900000003"]})])
    plans = plan(frame, **TEXT)
    assert [p.index for p in plans] == [0, 1, 0, 1]
    assert all(p.valid for p in plans)
    assert len({p.key for p in plans}) == 4
    assert len({query(p)["TaskId"] for p in plans}) == 4
    assert [p.key for p in plans] == [p.key for p in plan(frame, **TEXT)]  # still stable


def test_a_row_is_its_recipient_not_its_position_or_index() -> None:
    frame = pd.DataFrame({"to": ["8613900000000", "8613900000001", "8613900000002"]})
    keys = {p.fields["to"]: p.key for p in plan(frame, **TEXT)}
    edited = frame.drop(index=0).iloc[::-1].reset_index(drop=True)  # delete, reverse, re-index
    edited.index = edited.index.astype("Int64") + 100
    again = {p.fields["to"]: p.key for p in plan(edited, **TEXT)}
    assert again == {to: keys[to] for to in ("8613900000001", "8613900000002")}
    spaced = plan(pd.DataFrame({"to": ["+86 139-0000-0001"]}, index=["x"]), **TEXT)
    assert spaced[0].key == keys["8613900000001"]  # the same person, written differently


def test_the_same_recipient_in_another_campaign_is_another_row() -> None:
    frame = pd.DataFrame({"to": ["8613900000000"]})
    assert plan(frame, campaign="spring", **TEXT)[0].key != plan(frame, campaign="autumn",
                                                                  **TEXT)[0].key
    other_sender = {**TEXT, "from_": "8613800000001"}
    assert plan(frame, **TEXT)[0].key != plan(frame, **other_sender)[0].key


def test_a_recipient_twice_is_an_error_naming_the_first_row_even_across_chunks() -> None:
    seen: dict[str, Hashable] = {}
    first = plan(pd.DataFrame({"to": ["8613900000000"]}, index=["a"]), keys_seen=seen, **TEXT)
    second = plan(pd.DataFrame({"to": ["+86 139 0000 0000"]}, index=["b"]), keys_seen=seen,
                  **TEXT)
    assert first[0].valid and not second[0].valid
    [issue] = second[0].problems
    assert (issue.field, issue.rule) == ("To", "duplicate_recipient")
    assert "row 'a'" in issue.message and "key=" in issue.message


def test_a_repeated_key_value_is_an_error_and_a_shared_recipient_under_keys_a_warning() -> None:
    frame = pd.DataFrame({"to": ["8613900000000", "8613900000000", "8613900000001"],
                          "ref": ["r1", "r2", "r1"]})
    plans = plan(frame, key="ref", **TEXT)
    assert [p.valid for p in plans] == [True, True, False]
    assert [(i.field, i.rule) for i in plans[2].problems] == [("key", "duplicate_key")]
    check_plans(plans, seen_recipients={})
    assert [(w.field, w.rule) for w in plans[1].warnings] == [("To", "same_recipient")]
    assert plans[1].valid


def test_the_digest_changes_with_the_message_and_not_with_the_task_id() -> None:
    base = pd.DataFrame({"to": ["8613900000000"], "task_id": [None]})
    one, same = plan(base, **TEXT)[0], plan(base, campaign="other", **TEXT)[0]
    assert one.digest == same.digest and query(one)["TaskId"] != query(same)["TaskId"]
    changed = plan(base, **{**TEXT, "content": {"text": "hello again"}})[0]
    assert changed.key == one.key and changed.digest != one.digest


def test_a_key_column_names_the_row_whatever_its_index() -> None:
    one = plan(pd.DataFrame({"to": ["8613900000000"], "ref": [1001.0]}, index=[5]),
               key="ref", **TEXT)
    other = plan(pd.DataFrame({"to": ["8613900000000"], "ref": [1001]}, index=[9]),
                 key="ref", **TEXT)
    assert one[0].key == other[0].key


def test_a_key_column_that_does_not_exist_is_an_error() -> None:
    with pytest.raises(ValueError, match="'ref'"):
        FrameMapping(["to"], {}, key="ref")


def test_an_empty_key_cell_is_a_problem_not_a_shared_key() -> None:
    frame = pd.DataFrame({"to": ["8613900000000", "8613900000001"], "ref": [np.nan, np.nan]})
    plans = plan(frame, key="ref", **TEXT)
    assert [rules(p) for p in plans] == [[("key", "required")]] * 2
    assert plans[0].key != plans[1].key


# -- dry-run findings --------------------------------------------------------------------------


def template_plans(params: list[dict[str, Any]], **constants: Any) -> list[RowPlan]:
    frame = pd.DataFrame({"to": [f"86139000000{i:02d}" for i in range(len(params))],
                          "template_params": params})
    return plan(frame, **{**TEMPLATE, **constants})


def test_the_templates_a_campaign_needs_are_listed_once() -> None:
    plans = template_plans([{"name": "A"}, {"name": "B"}])
    assert template_requests(plans) == {(ORDER_SHIPPED, "en", "whatsapp")}


def test_template_variables_are_checked_missing_extra_and_blank() -> None:
    plans = template_plans([
        {"name": "Ada", "order_id": "A-1"},
        {"name": "Ada"},
        {"name": "Ada", "order_id": "A-1", "coupon": "X"},
        {"name": "   ", "order_id": "A-1"},
    ])
    check_plans(plans, {(ORDER_SHIPPED, "en", "whatsapp"): template()})
    assert [rules(p) for p in plans] == [
        [],
        [("TemplateParams.order_id", "missing_variable")],
        [("TemplateParams.coupon", "extra_variable")],
        [("TemplateParams.name", "blank_variable")],
    ]
    assert [p.valid for p in plans] == [True, False, False, False]
    assert plans[1].problems[0].code == "InvalidParameter.TemplateParamsMissing"


def test_an_unknown_template_or_language_is_an_error() -> None:
    plans = template_plans([{"name": "Ada", "order_id": "A-1"}], language="fr")
    check_plans(plans, {(ORDER_SHIPPED, "fr", "whatsapp"): None})
    assert rules(plans[0]) == [("TemplateCode", "unknown_template")]
    assert "'fr'" in plans[0].problems[0].message
    assert not plans[0].valid


def test_an_unapproved_template_is_an_error() -> None:
    plans = template_plans([{"name": "Ada"}], template_code=PENDING)
    check_plans(plans, {(PENDING, "en", "whatsapp"): template(PENDING)})
    assert rules(plans[0]) == [("TemplateCode", "not_approved")]
    assert "auditing" in plans[0].problems[0].message


def test_a_template_not_fetched_is_not_judged() -> None:
    plans = template_plans([{"nonsense": "x"}])
    check_plans(plans, None)
    assert plans[0].valid


@pytest.mark.parametrize(("window", "rule"), [
    (None, "window_maybe_closed"), (False, "window_closed"), (True, None)])
def test_free_form_whatsapp_warns_about_the_24_hour_window(window: bool | None,
                                                           rule: str | None) -> None:
    plans = plan(pd.DataFrame({"to": ["8613900000000"]}), **TEXT)
    check_plans(plans, window_open=lambda number: window)
    assert [w.rule for w in plans[0].warnings] == ([rule] if rule else [])
    assert plans[0].valid


@pytest.mark.parametrize("constants", [
    TEMPLATE | {"template_params": {"name": "Ada", "order_id": "A-1"}},
    dict(TEXT, channel_type="viber", message_type="text", content={"text": "hi"}),
])
def test_templates_and_other_channels_get_no_window_warning(constants: dict[str, Any]) -> None:
    plans = plan(pd.DataFrame({"to": ["8613900000000"]}), **constants)
    check_plans(plans, window_open=lambda number: False)
    assert plans[0].warnings == []


def test_rows_already_invalid_are_not_checked_again() -> None:
    plans = plan(pd.DataFrame({"to": [None, None]}), **TEXT)
    check_plans(plans, window_open=lambda number: False, seen_recipients={})
    assert [p.warnings for p in plans] == [[], []]
