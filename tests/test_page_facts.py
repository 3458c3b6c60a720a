"""What Confluence says about a postmortem page (labels, created, author) reaches the parsed page and the cache."""

from __future__ import annotations

import pytest

from sync.state_codec import postmortem_from_json, postmortem_to_json
from tests.harness import FLAVORS


@pytest.mark.parametrize("flavor", FLAVORS)
def test_labels_creation_and_author_reach_every_postmortem(world, flavor):
    world.cycle()
    pages = world.state.pages()
    assert pages, "the examples were synced"
    for pm in pages.values():
        assert "postmortem" in pm.labels
        assert pm.created is not None
        assert pm.author is not None
        assert (pm.author.account_id if flavor == "cloud" else pm.author.username)
        assert postmortem_from_json(postmortem_to_json(pm)) == pm
