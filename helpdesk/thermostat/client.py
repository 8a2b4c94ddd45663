"""HTTP client for the Thermostat API (see shared docs: thermostat-api.md).

One function per endpoint, one session factory with a default timeout and User-Agent, and a
typed error per failure kind. The token is never logged or put into an error message.
"""

from __future__ import annotations

from typing import Any

import requests

USER_AGENT = "helpdesk-thermostat/1.0"


class ThermostatError(Exception):
    """Base of every failure talking to Thermostat; `retryable` says if trying again helps."""

    kind = "error"
    retryable = False

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status


class Unauthorized(ThermostatError):
    kind = "unauthorized"


class PlanLimitReached(ThermostatError):
    kind = "plan_limit"


class SurveyNotFound(ThermostatError):
    kind = "not_found"


class InvalidInput(ThermostatError):
    kind = "invalid"


class ClientError(ThermostatError):
    kind = "client_error"


class Throttled(ThermostatError):
    kind = "throttled"
    retryable = True

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message, 429)
        self.retry_after = retry_after


class ServerError(ThermostatError):
    kind = "server_error"
    retryable = True


class Timeout(ThermostatError):
    kind = "timeout"
    retryable = True


class Unreachable(ThermostatError):
    kind = "unreachable"
    retryable = True


class BadResponse(ThermostatError):
    """A 2xx whose body is not what the endpoint promises (retrying will not fix it)."""

    kind = "bad_response"


def _messages(response: requests.Response, secret: str = "") -> str:
    """Thermostat errors are "usually" a JSON array of messages; accept anything.

    A server may echo the request back: the secret is cut out before anything is shortened.
    """
    def clean(text: str) -> str:
        return text.replace(secret, "[token]") if secret else text

    try:
        body = response.json()
    except ValueError:
        text = clean(response.text.strip())
        return text[:200] if text else response.reason or ""
    if isinstance(body, list):
        return clean(" ".join(str(m) for m in body))[:300]
    if isinstance(body, dict):
        msg = body.get("message") or body.get("error") or body.get("errors")
        return clean(str(msg if msg is not None else body))[:300]
    return clean(str(body))[:300]


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class ThermostatClient:
    """A client bound to one base URL and token."""

    def __init__(self, base_url: str, token: str, timeout: float = 10.0,
                 session: requests.Session | None = None, gate=None):
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self._gate = gate  # called before every call: the shared rate limiter
        self.session = session or requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})

    def __repr__(self) -> str:  # never show the token
        return f"<ThermostatClient {self.base_url}>"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.base_url}{path}"
        headers = {"Authorization": f"Bearer {self._token}"}
        if self._gate is not None:
            self._gate()
        try:
            response = self.session.request(method, url, headers=headers, timeout=self.timeout,
                                            **kwargs)
        except requests.Timeout:
            raise Timeout(f"Thermostat did not answer within {self.timeout:g} s") from None
        except requests.ConnectionError:
            raise Unreachable(f"Thermostat could not be reached at {self.base_url}") from None
        except requests.RequestException as exc:
            raise Unreachable(f"Thermostat request failed: {type(exc).__name__}") from None
        status = response.status_code
        if 200 <= status < 300:
            try:
                return response.json()
            except ValueError:
                raise BadResponse(f"Thermostat answered {status} with a body that is not JSON",
                                  status) from None
        detail = _messages(response, self._token)
        suffix = f": {detail}" if detail else ""
        if status == 401:
            raise Unauthorized(f"Thermostat refused the API token (401){suffix}", status)
        if status == 403:
            raise PlanLimitReached(f"Thermostat plan limit reached (403){suffix}", status)
        if status == 404:
            raise SurveyNotFound(f"Not found in Thermostat (404){suffix}", status)
        if status == 422:
            raise InvalidInput(f"Thermostat refused the data (422){suffix}", status)
        if status == 429:
            raise Throttled(f"Thermostat throttled the call (429){suffix}", _retry_after(response))
        if status >= 500:
            raise ServerError(f"Thermostat failed ({status}){suffix}", status)
        raise ClientError(f"Thermostat refused the call ({status}){suffix}", status)

    def account(self) -> dict[str, Any]:
        """GET /api/account: plan usage; also the cheapest token check."""
        body = self._call("GET", "/api/account")
        if not isinstance(body, dict):
            raise BadResponse("Thermostat's account answer is not a JSON object")
        return body

    def surveys(self) -> list[dict[str, Any]]:
        """GET /api/surveys: every survey of the team."""
        body = self._call("GET", "/api/surveys")
        if not isinstance(body, list):
            raise BadResponse("Thermostat's survey list is not a JSON array")
        return [s for s in body if isinstance(s, dict)]

    def send_now(self, survey_id: int, email: str, xrequest: str | int,
                 fields: dict[str, str] | None = None) -> dict[str, Any]:
        """POST /api/survey/<id>/sendnow: email the survey now."""
        data = {**(fields or {}), "email": email, "xrequest": str(xrequest)}
        body = self._call("POST", f"/api/survey/{int(survey_id)}/sendnow", data=data)
        return body if isinstance(body, dict) else {}

    def add_to_campaign(self, survey_id: int, email: str, xrequest: str | int,
                        fields: dict[str, str] | None = None) -> dict[str, Any]:
        """POST /api/survey/<id>/email: enrol the address in the survey's campaign."""
        data = {**(fields or {}), "email": email, "xrequest": str(xrequest)}
        body = self._call("POST", f"/api/survey/{int(survey_id)}/email", data=data)
        return body if isinstance(body, dict) else {}

    def responses(self, since: int | None = None) -> dict[str, Any]:
        """GET /api/helpspot?since=: one page of responses created or changed since then."""
        params = {"since": int(since)} if since is not None else None
        body = self._call("GET", "/api/helpspot", params=params)
        if not isinstance(body, dict) or not isinstance(body.get("responses"), list):
            raise BadResponse("Thermostat's response feed has no 'responses' list")
        return body
