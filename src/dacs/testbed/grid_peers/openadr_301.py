"""The test VTN as an OpenADR 3.0.1 VTN: its objects in 3.0.1's shape, 3.0.1 bodies read.

The test VTN keeps every object as OpenADR 3.1.0 JSON (it builds them with
openadr3-client's 3.1.0 models). In 3.0.1 mode it serves them the way the
3.0.1 OpenAPI file defines them and checks what a VEN sends against 3.0.1's
rules. Written from the 3.0.1 file, apart from the VEN's own translation
(``dacs.aggregator.openadr.versions``), so that a mistake in one shows up
against the other, and the tests check both against the vendored schema.
"""

from __future__ import annotations

from typing import Any, Final

# 3.1.0 program attribute -> the 3.0.1 program field it was
PROGRAM_ATTRIBUTES: Final = {
    "PROGRAM_LONG_NAME": "programLongName",
    "RETAILER_NAME": "retailerName",
    "RETAILER_LONG_NAME": "retailerLongName",
    "PROGRAM_TYPE": "programType",
    "COUNTRY": "country",
    "PRINCIPAL_SUBDIVISION": "principalSubdivision",
    "BINDING_EVENTS": "bindingEvents",
    "LOCAL": "localPrice",
}
# 3.1.0 has a VTN-assigned clientID on these; 3.0.1 has none.
_NO_CLIENT_ID: Final = ("vens", "resources", "reports", "subscriptions")


def value_maps(targets: Any) -> Any:
    """3.1.0 target strings as 3.0.1 targets: one valuesMap of type GROUP."""
    if not isinstance(targets, list) or not targets:
        return targets
    return [{"type": "GROUP", "values": list(targets)}]


def _descriptor(descriptor: Any, *, nlflex: bool) -> Any:
    if not isinstance(descriptor, dict):
        return descriptor
    out = dict(descriptor)
    if "targets" in out:
        out["targets"] = value_maps(out["targets"])
    if not nlflex:
        # 3.0.1 has no reportIntervals; the NL-flex profile (an OpenADR 3.1
        # profile) requires it, so a 3.0.1 VTN carrying NL-flex keeps it as
        # an extension field.
        out.pop("reportIntervals", None)
    return out


def shown(table: str, body: dict[str, Any], *, nlflex: bool) -> dict[str, Any]:
    """A stored 3.1.0 object of ``table`` as a 3.0.1 VTN serves it.

    Resource groups are the NL-flex extension's, not OpenADR's: as they are.
    """
    if table == "resource_groups":
        return body
    out = dict(body)
    if table in _NO_CLIENT_ID:
        out.pop("clientID", None)
    if "targets" in out:
        out["targets"] = value_maps(out["targets"])
    if table == "programs":
        for attribute in out.pop("attributes", None) or []:
            field = PROGRAM_ATTRIBUTES.get(attribute.get("type"))
            values = attribute.get("values") or []
            if field is not None and values:
                out[field] = values[0]
    if table == "events":
        out.setdefault("intervals", [])  # required in 3.0.1
        out.pop("duration", None)
        if isinstance(out.get("reportDescriptors"), list):
            out["reportDescriptors"] = [
                _descriptor(d, nlflex=nlflex) for d in out["reportDescriptors"]
            ]
    return out


def object_type_problem(body: Any, allowed: str) -> str | None:
    """Why a created object's objectType is not 3.0.1's (None: absent or right)."""
    if not isinstance(body, dict) or "objectType" not in body:
        return None
    if body["objectType"] != allowed:
        return f"objectType: {body['objectType']!r} is not one of [{allowed!r}]"
    return None


def report_program_problem(body: Any, events: dict[str, dict[str, Any]]) -> str | None:
    """Why a report's programID is not the program of its event (3.0.1 requires it)."""
    if not isinstance(body, dict):
        return "a report is a JSON object"
    program_id = body.get("programID")
    if program_id is None:
        return "'programID' is a required property"
    event = events.get(str(body.get("eventID")))
    if event is not None and event.get("programID") != program_id:
        return f"programID {program_id} is not the program of event {body['eventID']}"
    return None
