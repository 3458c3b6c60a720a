"""The user directory of both products: Cloud identifies people by accountId, Data Center by username and a key.

On Data Center each product keeps its own user keys: Confluence's `userkey` (32 hex digits, what a
`ri:userkey` mention carries) is not Jira's `key` (`JIRAUSER10100` for users created since Jira 8.x).
Someone may also have an account in one product only (`products`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sandbox.options import SANDBOX_EMAIL


@dataclass(frozen=True)
class User:
    """One person (or the sandbox's own API user)."""

    account_id: str
    username: str
    userkey: str
    display_name: str
    email: str
    active: bool = True
    time_zone: str | None = None  # IANA name from the profile; None: the site's default zone
    jira_key: str = ""  # Jira Data Center's key; empty: assigned by the directory (JIRAUSER<n>)
    products: tuple[str, ...] = ("jira", "confluence")  # where the person has an account

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> User:
        """A users.json entry."""
        return cls(
            account_id=data["accountId"],
            username=data["username"],
            userkey=data["userkey"],
            display_name=data["displayName"],
            email=data.get("emailAddress", ""),
            active=bool(data.get("active", True)),
            time_zone=data.get("timeZone"),
            jira_key=data.get("jiraKey", ""),
            products=tuple(data.get("products", ("jira", "confluence"))),
        )


# The identity behind the documented sandbox credentials (email + API token, or the PAT).
API_USER = User(
    account_id="557058:5a4db0c5-0000-4000-8000-000000000001",
    username="sandbox",
    userkey="5a4db0c500000000000000000000a001",
    display_name="Sandbox Automation",
    email=SANDBOX_EMAIL,
    jira_key="JIRAUSER10000",
)

BUILTIN_USERS = (
    User("557058:a11ce000-0000-4000-8000-00000000a11c", "alice", "a11ce000000000000000000000000001",
         "Alice Adams", "alice@example.com"),
    User("557058:b0b00000-0000-4000-8000-000000000b0b", "bob", "b0b00000000000000000000000000002",
         "Bob Brown", "bob@example.com"),
    User("557058:ca201000-0000-4000-8000-0000000ca201", "carol", "ca201000000000000000000000000003",
         "Carol Chen", "carol@example.com"),
    User("557058:d0000000-0000-4000-8000-0000000000d0", "dave", "d0000000000000000000000000000004",
         "Dave Former", "dave@example.com", active=False),  # inactive: cannot be assigned issues
)


FIRST_JIRA_KEY = 10100  # Jira numbers generated keys from its user ids (the API user's is JIRAUSER10000)


class UserDirectory:
    """Look-ups by each identifier the two deployments use."""

    def __init__(self, users: list[User], api_user: User = API_USER) -> None:
        self._users: list[User] = []
        self._next_key = FIRST_JIRA_KEY
        for user in [api_user, *users]:
            self.add(user)

    def add(self, user: User) -> None:
        """Add (or replace, by accountId) a user; one without a Jira key gets the next JIRAUSER<n>."""
        if not user.jira_key:
            user, self._next_key = replace(user, jira_key=f"JIRAUSER{self._next_key}"), self._next_key + 1
        self._users = [u for u in self._users if u.account_id != user.account_id] + [user]

    def of_product(self, product: str) -> UserDirectory:
        """The people with an account in this product ("jira" or "confluence"), as that product sees them."""
        view = UserDirectory.__new__(UserDirectory)
        view._users, view._next_key = [u for u in self._users if product in u.products], self._next_key
        return view

    def all(self) -> list[User]:
        return list(self._users)

    def by_account_id(self, account_id: str) -> User | None:
        return next((u for u in self._users if u.account_id == account_id), None)

    def by_username(self, username: str) -> User | None:
        return next((u for u in self._users if u.username.lower() == username.lower()), None)

    def by_key(self, userkey: str) -> User | None:
        """By Confluence's user key (Data Center)."""
        return next((u for u in self._users if u.userkey == userkey), None)

    def by_jira_key(self, key: str) -> User | None:
        """By Jira's user key (Data Center): JIRAUSER<n>, or a legacy lower-case username."""
        return next((u for u in self._users if u.jira_key.lower() == key.lower()), None)

    def by_any_id(self, identifier: str) -> User | None:
        """Match an accountId, userkey or username: what a storage-format mention may carry."""
        return self.by_account_id(identifier) or self.by_key(identifier) or self.by_username(identifier)

    def search(self, query: str) -> list[User]:
        """Prefix match on display name words, email and username, case-insensitive."""
        needle = query.strip().lower()
        if not needle:
            return []
        return [u for u in self._users if _matches(u, needle)]


def _matches(user: User, needle: str) -> bool:
    words = [*user.display_name.lower().split(), user.display_name.lower(), user.email.lower(), user.username.lower()]
    return any(word.startswith(needle) for word in words)


def load_users(seed_dir: Path) -> list[User]:
    """users.json from the seed folder, else the built-in people."""
    path = seed_dir / "users.json"
    if not path.is_file():
        return list(BUILTIN_USERS)
    return [User.from_json(entry) for entry in json.loads(path.read_text(encoding="utf-8"))]
