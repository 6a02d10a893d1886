"""Open and seal UFTP envelopes with shapeshifter-uftp's own parser and signing.

Inbound failures map to the HTTP statuses shapeshifter-uftp gives its
transport exceptions: 400 unreadable or not schema-valid, 401 signature does
not verify (unsigned, tampered, wrong key), 419 the sender's key is unknown.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
import hashlib
import logging

from shapeshifter_uftp import PayloadMessage, SignedMessage, transport
from shapeshifter_uftp.exceptions import InvalidSignatureException, SchemaException

from dacs.excerpt import quoted
from dacs.logs import tame_library_logger

from .errors import TransportRefusedError
from .participants import Participants

tame_library_logger("shapeshifter-uftp")
# xsdata keeps a value it cannot convert as the text it read (only warning),
# so "abc" would reach the handlers as an ISP number: refuse it while parsing.
transport.parser.config.fail_on_converter_warnings = True

_LOGGER = logging.getLogger(__name__)
_HTTP_BAD_REQUEST = 400
_HTTP_BAD_SIGNATURE = 401
_HTTP_UNKNOWN_KEY = 419
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True, kw_only=True)
class OpenedMessage:
    """A verified inner message with the envelope it came in."""

    sender_domain: str
    sender_role: str
    message: PayloadMessage
    digest: str  # SHA-256 of the message as XML: tells a repeat from a reuse of its id


def open_envelope(body: bytes, participants: Participants) -> OpenedMessage:
    """Parse the SignedMessage, look up the sender's key and verify the signature.

    Raises TransportRefusedError with the HTTP status to answer.
    """
    try:
        envelope = transport.from_xml(body)
    except Exception as err:  # xsdata raises several types for broken XML
        raise TransportRefusedError(
            _HTTP_BAD_REQUEST, f"not a UFTP message: {err}"
        ) from err
    if not isinstance(envelope, SignedMessage):
        raise TransportRefusedError(
            _HTTP_BAD_REQUEST,
            f"expected a SignedMessage, got {type(envelope).__name__}",
        )
    role = str(envelope.sender_role)
    key = participants.public_key(envelope.sender_domain, role)
    if key is None:
        raise TransportRefusedError(
            _HTTP_UNKNOWN_KEY,
            f"no key for {quoted(envelope.sender_domain)} ({quoted(role)})",
        )
    try:
        message = transport.unseal_message(envelope.body, key)
    except InvalidSignatureException as err:
        raise TransportRefusedError(
            _HTTP_BAD_SIGNATURE, "the signature does not verify"
        ) from err
    except SchemaException as err:
        raise TransportRefusedError(
            _HTTP_BAD_REQUEST, f"the message is not valid: {err}"
        ) from err
    except Exception as err:  # libsodium refuses bodies shorter than a signature
        raise TransportRefusedError(
            _HTTP_BAD_SIGNATURE, f"cannot verify the body: {err}"
        ) from err
    if not isinstance(message, PayloadMessage):
        raise TransportRefusedError(
            _HTTP_BAD_REQUEST, f"{type(message).__name__} is not a UFTP payload message"
        )
    _refuse_beyond_long(message)
    digest = hashlib.sha256(transport.to_xml(message).encode("utf-8")).hexdigest()
    return OpenedMessage(
        sender_domain=envelope.sender_domain,
        sender_role=role,
        message=message,
        digest=digest,
    )


def _refuse_beyond_long(node: object) -> None:
    """Every UFTP integer is an xs:long at most; xsdata reads any number of digits."""
    pending = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(item)
        elif dataclasses.is_dataclass(item):
            for field in dataclasses.fields(item):
                value = getattr(item, field.name)
                if isinstance(value, int) and not _LONG_MIN <= value <= _LONG_MAX:
                    raise TransportRefusedError(
                        _HTTP_BAD_REQUEST,
                        f"the message is not valid: {type(item).__name__}."
                        f"{field.name} is beyond a 64-bit integer",
                    )
                pending.append(value)


def seal(
    payload_xml: str, *, sender_domain: str, sender_role: str, secret: str
) -> bytes:
    """Sign an inner message (XML) and wrap it in a SignedMessage, as XML bytes."""
    message = transport.from_xml(payload_xml)
    signed = SignedMessage(
        sender_domain=sender_domain,
        sender_role=sender_role,
        body=transport.seal_message(message, secret),
    )
    xml: str = transport.to_xml(signed)
    return xml.encode("utf-8")


def to_xml(message: PayloadMessage) -> str:
    """The inner message as XML (what is signed and what the outbox keeps)."""
    xml: str = transport.to_xml(message)
    return xml
