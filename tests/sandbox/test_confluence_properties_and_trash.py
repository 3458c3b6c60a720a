"""Confluence content properties (the daemons' compare-and-swap lease) and page deletion, through
atlassian-python-api in both flavours; every exchange is validated against confluence-v1.swagger.v3.json."""

from __future__ import annotations

import threading

import pytest
from atlassian.errors import ApiConflictError, ApiError, ApiValueError
from requests import HTTPError

from tests.sandbox.sandbox_helpers import follow_cql

LEASE = "pmsync-lease"
RACERS = 8


def _postmortem_id(sandbox) -> str:
    return next(p.id for p in sandbox.state.confluence.pages.values() if p.labels)


def _property_url(sandbox, page_id: str, key: str = "") -> str:
    return f"{sandbox.confluence_url}/rest/api/content/{page_id}/property" + (f"/{key}" if key else "")


def test_property_lifecycle_through_the_library(sandbox, connect):
    confluence = connect(sandbox).confluence
    page_id = _postmortem_id(sandbox)
    created = confluence.set_page_property(page_id, {"key": LEASE, "value": {"holder": "a"}})
    assert (created["key"], created["value"], created["version"]["number"]) == (LEASE, {"holder": "a"}, 1)
    assert created["_links"]["self"].endswith(f"/rest/api/content/{page_id}/property/{LEASE}")
    assert confluence.get_page_property(page_id, LEASE)["version"]["number"] == 1
    updated = confluence.update_page_property(
        page_id, {"key": LEASE, "value": {"holder": "b"}, "version": {"number": 2}},
    )
    assert (updated["id"], updated["value"], updated["version"]["number"]) == (created["id"], {"holder": "b"}, 2)
    listed = confluence.get_page_properties(page_id)
    assert [(p["key"], p["version"]["number"]) for p in listed] == [(LEASE, 2)]
    confluence.delete_page_property(page_id, LEASE)
    with pytest.raises(ApiError) as gone:
        confluence.get_page_property(page_id, LEASE)
    assert gone.value.reason.response.status_code == 404
    assert gone.value.reason.response.json()["message"] == f"No content property found with key: {LEASE}"


def test_a_stale_version_is_a_409_and_an_existing_key_a_400(sandbox, connect):
    confluence = connect(sandbox).confluence
    page_id = _postmortem_id(sandbox)
    confluence.set_page_property(page_id, {"key": LEASE, "value": {"holder": "a"}})
    with pytest.raises(ApiConflictError) as stale:
        confluence.update_page_property(page_id, {"key": LEASE, "value": {"holder": "b"}, "version": {"number": 1}})
    body = stale.value.reason.response.json()
    assert (body["statusCode"], body["reason"]) == (409, "Conflict")
    assert body["message"] == "Version must be incremented on update. Current version is: 1"
    with pytest.raises(ApiValueError) as duplicate:
        confluence.set_page_property(page_id, {"key": LEASE, "value": {"holder": "c"}})
    assert duplicate.value.reason.response.status_code == 400
    assert confluence.get_page_property(page_id, LEASE)["value"] == {"holder": "a"}


def test_put_creates_a_missing_key_only_at_version_1(sandbox, connect):
    clients = connect(sandbox)
    page_id = _postmortem_id(sandbox)
    skipped = clients.http.put(_property_url(sandbox, page_id, "fresh"), json={"value": "x", "version": {"number": 2}})
    assert skipped.status_code == 404
    first = clients.http.put(_property_url(sandbox, page_id, "fresh"), json={"value": "x", "version": {"number": 1}})
    assert first.status_code == 200 and first.json()["version"]["number"] == 1
    by_key = clients.http.post(_property_url(sandbox, page_id, "other"), json={"value": ["a", "b"]})
    assert by_key.status_code == 200 and by_key.json()["key"] == "other"


def test_bad_property_requests_get_confluence_errors(cloud, connect):
    clients = connect(cloud)
    page_id = _postmortem_id(cloud)
    url = _property_url(cloud, page_id)
    assert clients.raw.post(url, json={"key": "k" * 256, "value": "x"}).status_code == 400  # spec: maxLength 255
    assert clients.http.post(url, json={"key": "big", "value": "x" * 40000}).status_code == 413
    assert clients.raw.put(f"{url}/k", json={"value": "x"}).status_code == 400  # no version
    assert clients.http.get(_property_url(cloud, "999", "k")).status_code == 404
    assert clients.http.delete(f"{url}/never-set").status_code == 404


def test_property_list_pages_and_filters_by_key(cloud, connect):
    clients = connect(cloud)
    page_id = _postmortem_id(cloud)
    for number in range(3):
        clients.confluence.set_page_property(page_id, {"key": f"k{number}", "value": {"n": number}})
    first = clients.http.get(_property_url(cloud, page_id), params={"limit": 2, "expand": "version"}).json()
    assert [p["key"] for p in first["results"]] == ["k0", "k1"] and "next" in first["_links"]
    chosen = clients.http.get(_property_url(cloud, page_id), params={"key": "k2", "expand": "content"}).json()
    assert [p["key"] for p in chosen["results"]] == ["k2"] and chosen["results"][0]["content"]["id"] == page_id


def test_racing_writers_of_the_same_version_have_exactly_one_winner(sandbox, connect):
    page_id = _postmortem_id(sandbox)
    racers = [connect(sandbox, allow_status=(409,)).confluence for _ in range(RACERS)]
    racers[0].set_page_property(page_id, {"key": LEASE, "value": {"holder": "nobody"}})
    for version in range(2, 6):
        winners = _race(racers, page_id, version)
        assert len(winners) == 1
        stored = racers[0].get_page_property(page_id, LEASE)
        assert (stored["value"], stored["version"]["number"]) == ({"holder": winners[0]}, version)


def _race(racers: list, page_id: str, version: int) -> list[str]:
    """Every racer PUTs `version` at the same moment; returns who succeeded (the others must get 409)."""
    barrier, winners, failures = threading.Barrier(len(racers)), [], []

    def put(index: int, confluence) -> None:
        holder = f"daemon-{index}"
        barrier.wait()
        try:
            wanted = {"key": LEASE, "value": {"holder": holder}, "version": {"number": version}}
            confluence.update_page_property(page_id, wanted)
            winners.append(holder)
        except ApiConflictError:
            pass
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=put, args=(i, c)) for i, c in enumerate(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []
    return winners


def test_racing_creators_of_a_new_key_have_exactly_one_winner(cloud, connect):
    page_id = _postmortem_id(cloud)
    racers = [connect(cloud).confluence for _ in range(RACERS)]
    barrier, created, refused = threading.Barrier(RACERS), [], []

    def create(index: int, confluence) -> None:
        barrier.wait()
        try:
            confluence.set_page_property(page_id, {"key": LEASE, "value": {"holder": f"daemon-{index}"}})
            created.append(index)
        except ApiValueError:
            refused.append(index)

    threads = [threading.Thread(target=create, args=(i, c)) for i, c in enumerate(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(created) == 1 and len(refused) == RACERS - 1


def test_a_deleted_page_goes_to_the_trash_and_out_of_search(sandbox, connect):
    clients = connect(sandbox)
    page_id = _postmortem_id(sandbox)
    clients.confluence.set_page_property(page_id, {"key": LEASE, "value": {"holder": "a"}})
    assert clients.confluence.remove_page(page_id) == 204
    hits, _ = follow_cql(clients.confluence, 'label = "postmortem"', limit=50)
    assert len(hits) == 12 and page_id not in {h["id"] for h in hits}
    missing = clients.http.get(f"{sandbox.confluence_url}/rest/api/content/{page_id}")
    assert missing.status_code == 404
    assert missing.json()["message"] == f"No content found with id : ContentId{{id={page_id}}}"
    trashed = clients.confluence.get_page_by_id(page_id, status="trashed", expand="version")
    assert (trashed["status"], trashed["version"]["number"]) == ("trashed", 1)
    assert clients.confluence.get_page_by_id(page_id, status="any")["status"] == "trashed"
    assert clients.http.get(_property_url(sandbox, page_id, LEASE)).status_code == 404
    assert sandbox.state.confluence.trash[page_id].properties[LEASE].value == {"holder": "a"}


def test_a_trashed_page_is_purged_only_with_status_trashed(sandbox, connect):
    clients = connect(sandbox)
    page_id = _postmortem_id(sandbox)
    sandbox.delete_page(page_id)
    assert clients.confluence.remove_page(page_id) == 404  # no longer current (the library returns the status)
    assert clients.confluence.remove_page_from_trash(page_id) == 204
    assert page_id not in sandbox.state.confluence.trash
    gone = clients.http.get(f"{sandbox.confluence_url}/rest/api/content/{page_id}", params={"status": "any"})
    assert gone.status_code == 404
    assert clients.confluence.remove_page_from_trash(page_id) == 404


def test_children_of_a_deleted_page_move_up_and_its_title_is_free_again(cloud, connect):
    clients = connect(cloud)
    home = cloud.state.confluence.spaces["PM"].homepage_id
    parent = clients.confluence.create_page("PM", "Quarterly reviews", "<p>q</p>", parent_id=home)
    child = clients.confluence.create_page("PM", "Q1 review", "<p>q1</p>", parent_id=parent["id"])
    clients.confluence.remove_page(parent["id"])
    moved = clients.confluence.get_page_by_id(child["id"], expand="ancestors")
    assert [a["id"] for a in moved["ancestors"]] == [home]
    again = clients.confluence.create_page("PM", "Quarterly reviews", "<p>new</p>", parent_id=home)
    assert again["id"] != parent["id"]


def test_editing_a_trashed_page_is_a_404(cloud, connect):
    clients = connect(cloud)
    page_id = _postmortem_id(cloud)
    cloud.delete_page(page_id)
    with pytest.raises(ApiError) as missing:
        clients.confluence.set_page_label(page_id, "pmsync")
    assert missing.value.reason.response.status_code == 404
    edit = {"id": page_id, "type": "page", "title": "Renamed", "version": {"number": 2}}
    with pytest.raises(HTTPError) as update:
        clients.confluence.put(f"rest/api/content/{page_id}", data=edit)
    assert update.value.response.status_code == 404
