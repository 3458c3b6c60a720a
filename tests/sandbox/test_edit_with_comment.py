"""Jira's edit-issue accepts `update.comment` beside label operations: one request, both applied or neither.

The daemon's overdue reminders rely on it (sync.reminders): the comment and the label that records its
step go in one `PUT /rest/api/2/issue/{key}`, so a reminder never lands without its label.
"""

from __future__ import annotations

from tests.sandbox.sandbox_helpers import new_task


def test_an_edit_adds_a_comment_and_a_label_together(sandbox, connect):
    clients = connect(sandbox)  # every exchange validated against the official spec
    key = clients.jira.issue_create(new_task("Rotate the certificate", labels=["pmsync"]))["key"]
    body = "Reminder 1 of 3: [~accountid:557058:ab022da7-c106-c2e7-4d21-c55521b87c0b] \\[x\\]"
    answer = clients.http.put(f"{sandbox.url}/rest/api/2/issue/{key}", json={
        "update": {"comment": [{"add": {"body": body}}], "labels": [{"add": "pmsync-reminded-1-20260303"}]}})
    assert answer.status_code == 204
    issue = clients.jira.issue(key, fields="labels,comment")["fields"]
    assert issue["labels"] == ["pmsync", "pmsync-reminded-1-20260303"]
    assert [c["body"] for c in issue["comment"]["comments"]] == [body]


def test_a_rejected_edit_adds_no_comment(sandbox, connect):
    clients = connect(sandbox)
    key = clients.jira.issue_create(new_task("Rotate the certificate"))["key"]
    answer = clients.raw.put(f"{sandbox.url}/rest/api/2/issue/{key}", json={
        "update": {"comment": [{"add": {"body": "hello"}}], "labels": [{"add": "has spaces"}]}}, timeout=5)
    assert answer.status_code == 400
    issue = clients.jira.issue(key, fields="labels,comment")["fields"]
    assert issue["comment"]["comments"] == [] and not issue["labels"]
