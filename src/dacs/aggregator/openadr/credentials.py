"""OAuth2 client-credentials tokens for the VEN, the client authenticated as configured.

RFC 6749 §2.3.1 lets a client send its credentials as HTTP Basic or as
``client_id``/``client_secret`` in the form body; the OpenADR 3.1 token
endpoint and some VTNs accept only the body, others only Basic. ``auto``
tries Basic, falls back to the body when the token endpoint refuses the
client, and keeps whichever worked.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import logging
from threading import Lock
from typing import Final, Literal, get_args, override
from urllib.parse import quote

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from dacs.excerpt import bounded

from .errors import VtnAuthError

_LOGGER = logging.getLogger(__name__)

type CredentialsMode = Literal["basic", "body", "auto"]
CREDENTIALS_MODES: Final = get_args(CredentialsMode.__value__)
_AUTO_ORDER: Final[tuple[Literal["basic", "body"], ...]] = ("basic", "body")


class ClientCredentialsToken:
    """A cached access token from a client-credentials grant; thread-safe."""

    def __init__(
        self,
        *,
        session: requests.Session,
        token_url: str,
        client_id: str,
        client_secret: str,
        scopes: tuple[str, ...] = (),
        mode: CredentialsMode = "auto",
        allow_insecure_http: bool = False,
    ) -> None:
        """Prepare; the first ``get_access_token`` asks the token endpoint."""
        if not token_url.startswith("https://") and not allow_insecure_http:
            raise VtnAuthError(
                f"token URL {token_url} is not HTTPS "
                "(allow_insecure_http = true is for test VTNs only)"
            )
        self._session = session
        self._token_url = token_url
        self._client_id = client_id
        self._secret = client_secret
        self._scopes = scopes
        self._modes: tuple[Literal["basic", "body"], ...] = (
            _AUTO_ORDER if mode == "auto" else (mode,)
        )
        self._lock = Lock()
        self._cached: tuple[datetime, str] | None = None

    @property
    def modes(self) -> tuple[Literal["basic", "body"], ...]:
        """The ways still tried, in order (after a success in ``auto``: the one that worked)."""
        return self._modes

    def get_access_token(self) -> str:
        """The cached token while it is less than half its lifetime old, else a new one."""
        with self._lock:
            if self._cached is not None and self._cached[0] > datetime.now(tz=UTC):
                return self._cached[1]
            self._cached = None
            return self._fetch()

    def _fetch(self) -> str:
        refusals: list[str] = []
        for mode in self._modes:
            response = self._request(mode)
            if _refuses_client(response):
                refusals.append(f"{mode}: {response.status_code} {response.text[:120]}")
                continue
            if len(self._modes) > 1:
                _LOGGER.info(
                    "OpenADR token endpoint accepts the client credentials as %s",
                    "HTTP Basic" if mode == "basic" else "form body",
                )
                self._modes = (mode,)
            return self._accept(response)
        raise VtnAuthError(
            bounded(
                "the token endpoint refused the client credentials ("
                + "; ".join(refusals)
                + ")"
            )
        )

    def _request(self, mode: Literal["basic", "body"]) -> requests.Response:
        form = {"grant_type": "client_credentials"}
        if self._scopes:
            form["scope"] = " ".join(self._scopes)
        auth: AuthBase | None = None
        if mode == "body":
            form |= {"client_id": self._client_id, "client_secret": self._secret}
        else:
            # §2.3.1: Basic carries the form-urlencoded id and secret.
            auth = HTTPBasicAuth(
                quote(self._client_id, safe=""), quote(self._secret, safe="")
            )
        return self._session.post(
            self._token_url,
            data=form,
            auth=auth,
            headers={"Accept": "application/json"},
        )

    def _accept(self, response: requests.Response) -> str:
        response.raise_for_status()
        body = response.json()
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise VtnAuthError("the token endpoint answered without an access_token")
        lifetime = body.get("expires_in", 3600)
        seconds = int(lifetime) if isinstance(lifetime, int | float | str) else 3600
        # Renew at half the lifetime, as the library's own token manager does.
        self._cached = (datetime.now(tz=UTC) + timedelta(seconds=seconds // 2), token)
        return token


def _refuses_client(response: requests.Response) -> bool:
    """401, or 400 invalid_client (RFC 6749 §5.2 allows either for a refused client)."""
    if response.status_code == 401:
        return True
    if response.status_code != 400:
        return False
    try:
        body = response.json()
    except requests.JSONDecodeError:
        return False
    return isinstance(body, dict) and body.get("error") == "invalid_client"


class BearerToken(AuthBase):
    """Puts the current access token on every request of a session."""

    def __init__(self, tokens: ClientCredentialsToken) -> None:
        """Use ``tokens`` for every request."""
        self._tokens = tokens

    @override
    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = "Bearer " + self._tokens.get_access_token()
        return r
