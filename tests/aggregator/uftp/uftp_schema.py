"""The official UFTP XSDs (tests/data/uftp) as validators for the messages of a flow."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree
from shapeshifter_uftp import PayloadMessage
from shapeshifter_uftp.transport import to_xml

XSD_DIR = Path(__file__).resolve().parents[2] / "data" / "uftp"
VERSIONS = ("3.0.0", "3.1.0")


@cache
def _schema(version: str) -> etree.XMLSchema:
    # UFTP-agr.xsd includes every message an AGR sends or receives.
    return etree.XMLSchema(etree.parse(str(XSD_DIR / version / "UFTP-agr.xsd")))


def problems(message: PayloadMessage, version: str | None = None) -> list[str]:
    """How ``message`` (as it goes on the wire) breaks the XSD of its version."""
    schema = _schema(version or message.version)
    document = etree.fromstring(to_xml(message).encode("utf-8"))
    if schema.validate(document):
        return []
    return [f"{error.line}: {error.message}" for error in schema.error_log]
