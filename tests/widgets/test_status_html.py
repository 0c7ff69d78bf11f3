"""The composer's status as HTML: problems in words, summary, results, receipts, code."""

from __future__ import annotations

import html

from cams_notebook.errors import InvalidRequestError
from cams_notebook.models import SendResult
from cams_notebook.problems import Problem, problem
from cams_notebook.sandbox import catalogue
from cams_notebook.templates import Template
from cams_notebook.widgets import status_html as S


def order_shipped() -> Template:
    data = next(t for t in catalogue.CATALOGUE
                if t["TemplateCode"] == "830174529611842305" and t["Language"] == "en")
    return Template.model_validate(data)


def test_problems_are_in_plain_words_and_keep_the_field_name() -> None:
    to = problem("To", "digits_only", "must be a phone number in international form (got 'abc')")
    line = html.unescape(S.problems_html([to]))
    assert "To</b>: Enter a phone number with its country code, e.g. +1 555 010 0001" in line
    assert "(got 'abc')" in line
    assert S.problem_text(problem("Content.link", "bad_url", "must be an http:// or https:// "
                                  "URL")) == "Enter a web address that starts with https:// or http://."
    assert (S.problem_text(problem("TemplateCode", "required", "is required"))
            == "Choose a template.")
    assert S.problem_text(problem("Content.text", "too_long", "is 4097 characters long; the "
                                  "limit is 4096")) == ("Too long: this is 4097 characters long; "
                                                        "the limit is 4096.")
    assert S.problem_text(problem("Ttl", "wrong_type", "Input should be a valid integer")) == (
        "Enter a number.")
    assert S.problem_text(problem("Label", "not_allowed", "is for Viber only")) == (
        "This field is for Viber only.")


def test_template_problems_keep_their_sentences() -> None:
    (p,) = [q for q in order_shipped().check_params({"name": "Ada"})]
    assert S.problem_text(p) == p.message


def test_summary_counts_what_to_fix() -> None:
    assert "Ready to send" in S.summary_html([])
    two = [Problem("To", "required", "x", "MissingTo"), Problem("From", "required", "x")]
    assert "2 things to fix before sending: To, From" in S.summary_html(two)


def test_result_shows_ids_or_the_error() -> None:
    ok = S.result_html(SendResult(RequestId="R-1", Code="OK", MessageId="M-1"))
    assert "M-1" in ok and "R-1" in ok and "Sent" in ok
    error = InvalidRequestError("bad To", code="InvalidParameter.To", request_id="R-2")
    out = S.result_html(error)
    assert "InvalidRequestError" in out and "InvalidParameter.To" in out and "bad To" in out
    assert "R-2" in out and "Not sent" in out


def test_receipts_trail_and_failure_code() -> None:
    events = [{"Status": "Sent"}, {"Status": "Sent"}, {"Status": "Failed", "ErrorCode": "131026",
                                                       "ErrorDescription": "Undeliverable"}]
    out = html.unescape(S.receipts_html(events))
    assert "Sent → Failed" in out and "131026: Undeliverable" in out
    assert "watching" in S.receipts_html([], "watching")
    assert "no receipt yet" in S.receipts_html([])


def test_copied_code_names_the_client_the_widget_talks_to_and_no_key() -> None:
    data = {"channel_type": "whatsapp", "type": "message", "from_": "8613800000000",
            "to": "8613900000001", "message_type": "text", "content": {"text": "Hi"}}
    real, sandbox = S.message_code(data), S.message_code(data, sandbox=True)
    assert "\nclient = Client.from_env()" in real and "Client.sandbox()" not in real
    assert "\nclient = Client.sandbox()" in sandbox
    for code in (real, sandbox):
        compile(code, "<copied>", "exec")
        assert "access_key" not in code


def test_problems_name_the_field_in_plain_words() -> None:
    lines = html.unescape(S.problems_html([
        problem("CustSpaceId", "too_long", "is too long"),
        problem("TemplateParams.name", "required", "is required"),
        problem("Content.fileName", "required", "is required")]))
    assert "<b>Space ID</b>" in lines and "<b>name</b>" in lines and "<b>File name</b>" in lines
    assert "[required]" not in lines and "CustSpaceId" not in lines


def test_summary_of_untouched_fields_says_what_is_left_not_an_error() -> None:
    two = [Problem("To", "required", "x"), Problem("TemplateCode", "required", "x")]
    quiet = S.summary_html(two, shown=False)
    assert "To send, fill in: To, Template." in quiet and "#b00020" not in quiet
    assert "#b00020" in S.summary_html(two, shown=True)


def test_a_valid_message_with_a_closed_window_is_not_ready_but_warned() -> None:
    out = S.summary_html([], warning="the window is closed")
    assert "Ready to send" not in out and "will likely fail: the window is closed" in out
    assert "131047" in S.window_html(False) and S.window_html(True) == ""
    assert "inbound=" in S.window_html(None)


def test_the_previous_message_card_is_titled_and_greyed() -> None:
    out = S.result_html(SendResult(RequestId="R-1", Code="OK", MessageId="M-1"), previous=True)
    assert "Previous message: sent" in out and "cams-previous" in out and "M-1" in out
    assert "Previous" not in S.result_html(SendResult(RequestId="R", Code="OK", MessageId="M"))


def test_copy_outcome_says_copied_or_how_to_copy_by_hand() -> None:
    assert "Copied" in S.copied_html("copied")
    assert "select the code below" in S.copied_html("failed")
    assert S.copied_html("") == ""
