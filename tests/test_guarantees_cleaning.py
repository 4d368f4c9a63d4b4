"""Issue 17, item 3: invisible format characters (Unicode Cf) are dropped from values, as
control characters are, except the joiners (ZWJ, ZWNJ) that scripts and emoji need."""

from __future__ import annotations

from connector.core.model import Submission
from connector.core.normalise import FieldMapping, FieldSpec, clean_text, normalise_email, to_response

MAPPING = FieldMapping((FieldSpec("email", lead="Email"), FieldSpec("company", lead="Company"),
                        FieldSpec("message", lead="Description")))


def test_right_to_left_override_and_other_format_characters_are_dropped():
    assert clean_text("Acme\u202e Corp") == "Acme Corp"
    assert clean_text("\ufeffBob\u200b Smith\u2066\u2069\u00ad") == "Bob Smith"
    assert clean_text("a\u2060b\u180ec") == "abc"


def test_joiners_that_scripts_need_are_kept():
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"      # ZWNJ inside a word
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"           # an emoji ZWJ sequence
    assert clean_text(persian) == persian
    assert clean_text(family) == family


def test_control_characters_are_still_dropped_and_multiline_keeps_newlines():
    assert clean_text("x\x00y\x07") == "xy"
    assert clean_text("line 1\n\u202eline 2", multiline=True) == "line 1\nline 2"


def test_an_email_with_a_hidden_override_is_the_same_person():
    assert normalise_email("bob\u202e@acme.example") == "bob@acme.example"


def test_a_response_never_carries_format_characters():
    sub = Submission("c-1", "f-1", 1_700_000_000_000,
                     {"email": "a@b.example", "company": "\u202eemoc.emca", "message": "hi\u200b there"})
    r = to_response(sub, MAPPING, campaign_id="701", member_status="Responded")
    assert r.lead_fields["Company"] == "emoc.emca"
    assert r.lead_fields["Description"] == "hi there"
    assert r.form_values["company"] == "emoc.emca"


def test_a_rejected_fills_email_in_the_ledger_has_no_format_characters(tmp_path):
    from connector.adapters.sqlite.ledger import State
    from connector.sandbox import Sandbox
    from sync_helpers import Org

    with Sandbox() as sb:
        org = Org(sb, tmp_path / "s.db")
        org.add_forms(1)
        org.fill(0, "no-at-sign\u202e-here")
        report = org.sync("unique")
        assert report.counts["failed"] == 1
        state = State.open_read_only(org.state_path)
        (row,) = state.rows("failed")
        state.close()
        assert "\u202e" not in row["email"] and row["email"] == "no-at-sign-here"
