"""OpenADR 3.0.1 and 3.1.0 on the wire: where the VEN's paths and bodies differ. Pure.

The VEN works on OpenADR 3.1.0 models throughout. Against a 3.0.1 VTN,
``Wire`` translates at the edge, each way, and only what the two versions'
OpenAPI files define differently for what the VEN touches:

* resources live under ``/vens/{venID}/resources`` (3.1.0: ``/resources``);
* a VEN or resource the VEN creates carries no ``VEN_VEN_REQUEST`` /
  ``VEN_RESOURCE_REQUEST`` object type (3.0.1 knows only ``VEN`` and
  ``RESOURCE``, both optional), and a report names its ``programID``
  (required in 3.0.1, gone in 3.1.0);
* targets are valuesMaps (``{"type": "GROUP", "values": [...]}``), not
  strings: read as their string values;
* a program's ``programType``, ``retailerName``, ``bindingEvents`` ... are
  fields of their own, not attributes: read as the 3.1.0 attributes;
* the VTN's objects carry no ``clientID`` (3.1.0 requires it of a VEN,
  resource and report): read as the client this VEN is;
* there is no token URL discovery (``GET /auth/server``) and no MQTT
  notifier (``GET /notifiers``): the token URL defaults to the VTN's
  ``/auth/token`` and the VEN polls only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

type OpenAdrVersion = Literal["3.0.1", "3.1.0"]
type VersionSetting = Literal["auto", "3.0.1", "3.1.0"]
VERSION_SETTINGS: Final = get_args(VersionSetting.__value__)

# 3.0.1 program field -> the 3.1.0 program attribute that replaced it
PROGRAM_FIELDS: Final = {
    "programLongName": "PROGRAM_LONG_NAME",
    "retailerName": "RETAILER_NAME",
    "retailerLongName": "RETAILER_LONG_NAME",
    "programType": "PROGRAM_TYPE",
    "country": "COUNTRY",
    "principalSubdivision": "PRINCIPAL_SUBDIVISION",
    "bindingEvents": "BINDING_EVENTS",
    "localPrice": "LOCAL",
}


def target_strings(targets: Any) -> Any:
    """3.0.1 targets (valuesMaps) as 3.1.0 targets (strings); strings stay as they are."""
    if not isinstance(targets, list):
        return targets
    found: list[str] = []
    for target in targets:
        if isinstance(target, str):
            found.append(target)
        elif isinstance(target, Mapping):
            values = target.get("values")
            found += [v for v in values or () if isinstance(v, str)]
    return found


def _with_target_strings(body: dict[str, Any]) -> dict[str, Any]:
    if "targets" in body:
        return body | {"targets": target_strings(body["targets"])}
    return body


@dataclass(frozen=True, kw_only=True)
class Wire:
    """The VEN's requests and the VTN's answers in one OpenADR version."""

    version: OpenAdrVersion
    client_id: str  # the VEN's OAuth2 client: the clientID of what the VTN serves it

    @property
    def legacy(self) -> bool:
        """True for OpenADR 3.0.1."""
        return self.version == "3.0.1"

    def resources_path(self, ven_id: str) -> tuple[str, dict[str, str]]:
        """Where this VEN's resources are listed and created, and the query to list them."""
        if self.legacy:
            return f"vens/{ven_id}/resources", {}
        return "resources", {"venID": ven_id}

    # -- what the VEN sends ---------------------------------------------------

    def ven_body(self, body: dict[str, Any]) -> dict[str, Any]:
        """A new VEN object (3.1.0: VEN_VEN_REQUEST) as this version wants it."""
        return self._without_request_type(body)

    def resource_body(self, body: dict[str, Any]) -> dict[str, Any]:
        """A new resource (3.1.0: VEN_RESOURCE_REQUEST) as this version wants it."""
        return self._without_request_type(body)

    def report_body(self, body: dict[str, Any], program_id: str) -> dict[str, Any]:
        """A report; 3.0.1 requires the program of its event."""
        if self.legacy:
            return {"programID": program_id} | body
        return body

    def _without_request_type(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.legacy:
            return {k: v for k, v in body.items() if k != "objectType"}
        return body

    # -- what the VTN answers --------------------------------------------------

    def program(self, body: Any) -> Any:
        """A program as 3.1.0 shapes it."""
        if not self.legacy or not isinstance(body, dict):
            return body
        attributes = list(body.get("attributes") or [])
        named = {a.get("type") for a in attributes if isinstance(a, Mapping)}
        out: dict[str, Any] = {}
        for key, value in body.items():
            attribute = PROGRAM_FIELDS.get(key)
            if attribute is None:
                out[key] = value
            elif value is not None and attribute not in named:
                attributes.append({"type": attribute, "values": [value]})
        if attributes:
            out["attributes"] = attributes
        out.pop("timeZoneOffset", None)  # 3.1.0 dropped it; the VEN works in UTC
        return _with_target_strings(out)

    def event(self, body: Any) -> Any:
        """An event as 3.1.0 shapes it (its targets and its report descriptors' targets)."""
        if not self.legacy or not isinstance(body, dict):
            return body
        out = _with_target_strings(body)
        descriptors = out.get("reportDescriptors")
        if isinstance(descriptors, list):
            out = out | {
                "reportDescriptors": [
                    _with_target_strings(d) if isinstance(d, dict) else d
                    for d in descriptors
                ]
            }
        return out

    def ven(self, body: Any) -> Any:
        """A VEN object as 3.1.0 shapes it (no nested resources in 3.1.0)."""
        if not self.legacy or not isinstance(body, dict):
            return body
        out = {k: v for k, v in body.items() if k != "resources"}
        return _with_target_strings({"clientID": self.client_id} | out)

    def resource(self, body: Any, ven_id: str) -> Any:
        """A resource of ``ven_id`` as 3.1.0 shapes it (venID and clientID required)."""
        if not self.legacy or not isinstance(body, dict):
            return body
        return _with_target_strings(
            {"clientID": self.client_id, "venID": ven_id} | body
        )

    def report(self, body: Any) -> Any:
        """A report as 3.1.0 shapes it (clientID required, no programID)."""
        if not self.legacy or not isinstance(body, dict):
            return body
        out = {k: v for k, v in body.items() if k != "programID"}
        return {"clientID": self.client_id} | out
