"""The enrollment kept in ``/data/enrollment.json`` (credentials: mode 0600)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from dacs.broker import write_atomically
from dacs.protocol import (
    EnrollmentResponse,
    ProtocolError,
    decode_enrollment_response,
    format_time,
    parse_time,
)

from .errors import EnrollmentStoreError

STORE_VERSION = 1
ENROLLMENT_FILE = "enrollment.json"


def code_fingerprint(code: str) -> str:
    """A SHA-256 of the code: enough to recognise it, useless to anyone else."""
    return hashlib.sha256(code.encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class StoredEnrollment:
    """An enrollment as received, with where and with which code it happened."""

    response: EnrollmentResponse
    aggregator_url: str
    code_sha256: str
    enrolled_at: datetime

    def used_code(self, code: str) -> bool:
        """True when this enrollment was made with ``code``."""
        return hmac.compare_digest(self.code_sha256, code_fingerprint(code))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to disk."""
        return {
            "version": STORE_VERSION,
            "aggregator_url": self.aggregator_url,
            "code_sha256": self.code_sha256,
            "enrolled_at": format_time(self.enrolled_at),
            "enrollment": self.response.to_dict(),
        }


def save_enrollment(path: Path, stored: StoredEnrollment) -> None:
    """Write the enrollment atomically, readable only by the add-on."""
    text = json.dumps(stored.to_dict(), indent=2) + "\n"
    try:
        write_atomically(path, text, mode=0o600)
    except OSError as err:
        raise EnrollmentStoreError(f"cannot write {path}: {err}") from err


def load_enrollment(path: Path) -> StoredEnrollment | None:
    """The stored enrollment, or None when there is none yet."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise EnrollmentStoreError(f"cannot read {path}: {err}") from err
    try:
        if document["version"] != STORE_VERSION:
            raise EnrollmentStoreError(
                f"{path} has format version {document['version']!r}; "
                f"this add-on reads version {STORE_VERSION}"
            )
        return StoredEnrollment(
            response=decode_enrollment_response(json.dumps(document["enrollment"])),
            aggregator_url=str(document["aggregator_url"]),
            code_sha256=str(document["code_sha256"]),
            enrolled_at=parse_time(document["enrolled_at"]),
        )
    except (KeyError, TypeError, ValueError, ProtocolError) as err:
        raise EnrollmentStoreError(f"{path} is damaged: {err}") from err
