"""`check` goes on after a group fails: an Atlassian error a group did not expect is that group's failed line."""

from __future__ import annotations

from sync.checks import Probe, _guarded
from sync.ports import AtlassianError, AuthFailed


def _raising(exc: Exception):
    def a_group(probe: Probe):
        raise exc
        yield  # a generator, like every group

    return a_group


def test_a_refused_credential_names_the_lines_above_instead_of_the_html_error_page():
    [check] = _guarded(_raising(AuthFailed("<html><title>HTTP Status 401</title>...", status=401)), None)
    assert check.name == "a group" and not check.passed
    assert "refused the credentials" in check.message and "<html>" not in check.message


def test_an_unexpected_answer_is_one_short_line():
    long = "Internal error\n" + "x" * 500
    [check] = _guarded(_raising(AtlassianError(long, status=500)), None)
    assert not check.passed and check.message.startswith("unexpected answer: Internal error x")
    assert "\n" not in check.message and len(check.message) < 240
