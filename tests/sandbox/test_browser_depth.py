"""The browser view renders deeply nested pages without recursion: a 2,000-deep page answers 200, not 500."""

from __future__ import annotations

import requests
from lxml import html as lxml_html

from sandbox.browser.render import RenderContext, render_storage

DEPTH = 2000
# Five levels per round: a div, a layout cell, an info macro (macro + rich-text body), a blockquote.
ROUND = '<div><ac:layout-cell><ac:structured-macro ac:name="info"><ac:rich-text-body><blockquote>'
ROUND_END = "</blockquote></ac:rich-text-body></ac:structured-macro></ac:layout-cell></div>"
ROUNDS = DEPTH // 5


def deep_body(rounds: int = ROUNDS) -> str:
    """A page body DEPTH elements deep, of the kinds the renderer descends through, with text at the bottom."""
    return ROUND * rounds + "<p>the bottom</p>" + ROUND_END * rounds + "<p>after</p>"


def test_rendering_a_2000_deep_body_keeps_every_level_and_the_text():
    out = render_storage(deep_body(), RenderContext())
    assert out.count("<blockquote>") == ROUNDS and out.count("</blockquote>") == ROUNDS
    assert out.index("the bottom") < out.index("after")
    dom = lxml_html.fromstring(f"<div>{out}</div>", parser=lxml_html.HTMLParser(huge_tree=True))
    assert "the bottom" in dom.text_content()


def test_nested_task_lists_render_iteratively_too():
    levels = DEPTH // 2 - 1  # a task list and its task per level
    body = "<ac:task-list><ac:task><ac:task-body>upper</ac:task-body>" * levels
    body += "<ac:task-list><ac:task><ac:task-body>deepest</ac:task-body></ac:task></ac:task-list>"
    body += "</ac:task></ac:task-list>" * levels
    out = render_storage(body, RenderContext())
    assert out.count('<ul class="task-list">') == levels + 1 and out.count("upper") == levels
    assert out.index("deepest") < out.index("</li>")


def test_the_browser_view_of_a_2000_deep_page_answers_200(sandbox, connect):
    clients = connect(sandbox)
    created = clients.confluence.post("rest/api/content", data={
        "type": "page", "title": "Deep", "space": {"key": "PM"},
        "body": {"storage": {"value": deep_body(), "representation": "storage"}}})
    reply = requests.get(f"{sandbox.url}/wiki/spaces/PM/pages/{created['id']}", timeout=60)
    assert reply.status_code == 200, reply.text[-500:]
    assert "the bottom" in reply.text and reply.text.count("<blockquote>") == ROUNDS
    view = clients.confluence.get(f"rest/api/content/{created['id']}", params={"expand": "body.view"})
    assert "the bottom" in view["body"]["view"]["value"]
