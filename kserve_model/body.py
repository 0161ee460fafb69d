"""The REST request body before the decoder sees it: its size, its JSON, its v2 shape.

* `BodyLimit` (ASGI middleware) answers 413 for a body over MAX_REQUEST_BYTES, by its
  Content-Length before anything is read, or as soon as a streamed (chunked) body passes the
  limit; nothing larger is ever buffered or parsed.
* `parse_body` turns what KServe's data plane would take as "byte inputs" (a v2 body FastAPI
  could not parse as JSON) into a 400 that says so, with the parser's position, and guards the
  binary-extension path, whose KServe parser fails with KeyError/ValueError (500s) on
  malformed JSON parts.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException
from kserve.errors import InvalidInput
from kserve.protocol.rest.v2_datamodels import InferenceRequest
from pydantic import ValidationError

from kserve_model.request import RequestError

BINARY_HEADER = "inference-header-content-length"
"""KServe's (and Triton's) binary tensor extension: the JSON part's length in bytes."""


class RequestTooLarge(HTTPException):
    """An HTTPException, so that FastAPI's body reading re-raises it instead of a 400."""

    def __init__(self, limit: int, size: int | None = None) -> None:
        got = f"{size} bytes" if size is not None else f"more than {limit} bytes"
        super().__init__(413, f"request body of {got} exceeds the limit of {limit} bytes (MAX_REQUEST_BYTES); "
                              f"send fewer rows per request")
        self.limit = limit


class BodyLimit:
    """Pure ASGI, so the limit holds for streamed bodies too (a `Request` middleware would
    read the whole body first). Not Starlette's RequestBodyLimitMiddleware: it answers a plain
    "Content Too Large" that names neither the limit nor the setting."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _send_413(send, RequestTooLarge(self.max_bytes, int(declared)))
            return
        seen = 0

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise RequestTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited, send)


async def _send_413(send: Any, exc: RequestTooLarge) -> None:
    body = json.dumps({"error": exc.detail, "input": None, "row": None,
                       "expected": f"at most {exc.limit} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def not_json(e: json.JSONDecodeError | UnicodeDecodeError, what: str = "request body") -> RequestError:
    if isinstance(e, UnicodeDecodeError):
        where = f"byte {e.start}: not UTF-8"
    else:
        where = f"{e.msg} at line {e.lineno} column {e.colno} (char {e.pos})"
    return RequestError(f"{what} is not valid JSON: {where}", None, None, "a JSON object")


def validation_error(e: ValidationError, expected: str) -> RequestError:
    """The first pydantic error as our 400: `inputs.0.shape: Input should be a valid list`."""
    first = e.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return RequestError(f"malformed request: {first.get('msg', 'invalid')}" + (f" at {where}" if where else ""),
                        where or None, None, expected)


def parse_v2(body: bytes) -> InferenceRequest:
    """A v2 body that reached the data plane as bytes without the binary extension."""
    try:
        raw = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise not_json(e) from None
    try:
        return InferenceRequest.model_validate(raw)
    except ValidationError as e:
        raise validation_error(e, "a v2 inference request (JSON object with 'inputs')") from None


def json_part_length(headers: dict[str, str], body: bytes) -> int:
    """The binary extension's JSON length, checked against the body it describes."""
    text = headers.get(BINARY_HEADER, "")
    if not text.strip().isdigit() or not 0 < int(text) <= len(body):
        raise RequestError(f"header '{BINARY_HEADER}': expected the length in bytes of the JSON part "
                           f"(1..{len(body)}), got {text!r}", BINARY_HEADER, None, f"an integer in 1..{len(body)}")
    return int(text)


def parse_v1(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise not_json(e) from None


_DECODE_FAULTS = (KeyError, TypeError, ValueError, IndexError, AttributeError)


def guarded_decode(original: Any, body: Any, headers: dict | None, protocol_version: str,
                   model_name: str | None) -> Any:
    """KServe's DataPlane.decode with every malformed body a RequestError (400) that says why."""
    headers = headers or {}
    if isinstance(body, (bytes, bytearray)):
        if protocol_version == "v2":
            if BINARY_HEADER in headers:
                json_part_length(headers, body)
                return _binary(original, body, headers, protocol_version, model_name)
            body = parse_v2(bytes(body))
        elif not any(k.startswith("ce-") for k in headers):  # a binary CloudEvent stays KServe's
            # v1 instances are JSON whatever the Content-Type says (curl -d sends a form type)
            return original(parse_v1(bytes(body)), {**headers, "content-type": "application/json"},
                            protocol_version, model_name)
    return original(body, headers, protocol_version, model_name)


def _binary(original: Any, body: bytes, headers: dict, protocol_version: str, model_name: str | None) -> Any:
    try:
        return original(body, headers, protocol_version, model_name)
    except RequestError:
        raise
    except InvalidInput as e:  # KServe's own, e.g. "Unrecognized request format": keep its words
        raise RequestError(f"binary-extension request: {e}", None, None, "a v2 JSON part then the tensors") from None
    except _DECODE_FAULTS as e:
        raise RequestError(f"binary-extension request: the JSON part is not a v2 request ({type(e).__name__}: {e})",
                           None, None, "a v2 JSON part with inputs [{name, shape, datatype, parameters}]") from None
