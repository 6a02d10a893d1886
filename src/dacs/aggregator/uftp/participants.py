"""Who we talk to: a static participants file instead of UFTP's DNS look-ups.

The file (TOML or JSON) lists every participant we exchange messages with::

    [[participant]]
    domain = "dso.example.com"
    role = "DSO"
    public_key = "base64 ed25519 public key"
    endpoint = "https://dso.example.com/shapeshifter/api/v3/message"
"""

from __future__ import annotations

from dataclasses import dataclass
import json
from pathlib import Path
import tomllib
from typing import Any

from .errors import UftpConfigError, UnknownParticipantError
from .keys import check_public_key

ROLES = ("AGR", "DSO", "CRO")


@dataclass(frozen=True, kw_only=True)
class Participant:
    """One UFTP participant in one role."""

    domain: str
    role: str
    public_key: str
    endpoint: str


class Participants:
    """Keys and endpoints by (domain, role)."""

    def __init__(self, participants: list[Participant]) -> None:
        """Index the participants; a (domain, role) pair may appear once."""
        self._by_key: dict[tuple[str, str], Participant] = {}
        for participant in participants:
            key = (participant.domain.lower(), participant.role)
            if key in self._by_key:
                raise UftpConfigError(
                    f"participant {participant.domain} {participant.role} is listed twice"
                )
            self._by_key[key] = participant

    @classmethod
    def load(cls, path: Path) -> Participants:
        """Read a TOML (``.toml``) or JSON file; errors name the file and the entry."""
        try:
            text = path.read_text(encoding="utf-8")
            document: Any = (
                json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
            )
        except (OSError, ValueError) as err:
            raise UftpConfigError(f"{path}: {err}") from err
        entries = (
            document.get("participant", []) if isinstance(document, dict) else document
        )
        if not isinstance(entries, list):
            raise UftpConfigError(f"{path}: expected a list of participants")
        return cls(
            [
                _participant(entry, f"{path} entry {i + 1}")
                for i, entry in enumerate(entries)
            ]
        )

    def find(self, domain: str, role: str) -> Participant:
        """The participant, or UnknownParticipantError."""
        found = self._by_key.get((domain.lower(), str(role)))
        if found is None:
            raise UnknownParticipantError(
                f"{domain} ({role}) is not a known participant"
            )
        return found

    def public_key(self, domain: str, role: str) -> str | None:
        """A key lookup in the shape shapeshifter-uftp expects (None when unknown)."""
        participant = self._by_key.get((domain.lower(), str(role)))
        return participant.public_key if participant else None

    def endpoint(self, domain: str, role: str) -> str | None:
        """An endpoint lookup in the shape shapeshifter-uftp expects."""
        participant = self._by_key.get((domain.lower(), str(role)))
        return participant.endpoint if participant else None


def _participant(entry: Any, where: str) -> Participant:
    if not isinstance(entry, dict):
        raise UftpConfigError(f"{where}: expected a table")
    missing = {"domain", "role", "public_key", "endpoint"} - set(entry)
    if missing:
        raise UftpConfigError(f"{where}: missing {', '.join(sorted(missing))}")
    role = str(entry["role"]).upper()
    if role not in ROLES:
        raise UftpConfigError(f"{where}: role must be one of {', '.join(ROLES)}")
    endpoint = str(entry["endpoint"])
    if not endpoint.startswith(("http://", "https://")):
        raise UftpConfigError(f"{where}: endpoint must be an http(s) URL")
    return Participant(
        domain=str(entry["domain"]).lower(),
        role=role,
        public_key=check_public_key(str(entry["public_key"]), where),
        endpoint=endpoint,
    )
