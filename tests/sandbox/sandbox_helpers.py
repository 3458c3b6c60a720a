"""Small builders shared by the sandbox tests."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests
import requests.auth

from sandbox import Sandbox


class ProductPat(requests.auth.AuthBase):
    """Data Center: each product's own bearer PAT (Confluence's under /wiki, Jira's elsewhere): they are per product."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.tokens = {product: sandbox.auth_kwargs(product)["token"] for product in ("jira", "confluence")}

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        path = urlsplit(request.url or "").path
        product = "confluence" if path.startswith(("/wiki", "/ex/confluence/")) else "jira"
        request.headers["Authorization"] = f"Bearer {self.tokens[product]}"
        return request


def authorized_session(sandbox: Sandbox) -> requests.Session:
    """A requests Session carrying the flavour's sandbox credentials (on Data Center, each product's PAT)."""
    session = requests.Session()
    if sandbox.options.is_cloud:
        session.auth = (sandbox.auth_kwargs()["username"], sandbox.auth_kwargs()["password"])
    else:
        session.auth = ProductPat(sandbox)
    return session


def new_task(summary: str = "Rotate the TLS certificate", **fields) -> dict:
    """The `fields` of a Task in OPS."""
    return {"project": {"key": "OPS"}, "issuetype": {"name": "Task"}, "summary": summary, **fields}


def search_url(sandbox: Sandbox) -> str:
    """Where each deployment searches issues: /rest/api/3/search/jql on Cloud, /rest/api/2/search on DC."""
    return f"{sandbox.url}/rest/api/{'3/search/jql' if sandbox.options.is_cloud else '2/search'}"


def adf(text: str) -> dict:
    """A one-paragraph Atlassian Document."""
    paragraph = {"type": "paragraph", "content": [{"type": "text", "text": text}]}
    return {"type": "doc", "version": 1, "content": [paragraph]}


def query_of(link: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(link).query)


def follow_cql(confluence, cql: str, limit: int, expand: str = "version") -> tuple[list[dict], list[dict]]:
    """All content/search hits by following `_links.base` + `_links.next`; also returns each page's body."""
    first = confluence.get("rest/api/content/search", params={"cql": cql, "limit": limit, "expand": expand})
    pages, hits = [first], list(first["results"])
    while "next" in pages[-1]["_links"]:
        links = pages[-1]["_links"]
        pages.append(confluence.get(links["base"] + links["next"], absolute=True))
        hits += pages[-1]["results"]
    return hits, pages
