"""Answers in the shapes Stitch uses per resource, and the exception that carries one out of a handler."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse, Response


class ApiAnswer(Exception):
    """Raised by a handler to end the request with a ready response (usually an error)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def json_answer(body: Any, status: int = 200) -> JSONResponse:
    """A JSON response."""
    return JSONResponse(body, status_code=status)


def encode_json(value: Any) -> bytes:
    """JSON bytes exactly as :func:`json_answer` writes them (compact, UTF-8)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


def encoded_answer(payload: bytes, status: int = 200) -> Response:
    """A JSON response from bytes already encoded with :func:`encode_json` (or joined from such parts)."""
    return Response(content=payload, status_code=status, media_type="application/json")


def json_array(parts: list[bytes]) -> bytes:
    """A JSON array joined from encoded items."""
    return b"[" + b",".join(parts) + b"]"


def source_error(code: str, message: str, status: int = 400, **data: Any) -> ApiAnswer:
    """Sources style: ``{"error": "<Code>", "data": {"message": ...}}``."""
    return ApiAnswer(json_answer({"error": code, "data": {"message": message, **data}}, status))


def job_error(error_type: str, message: str, status: int = 400) -> ApiAnswer:
    """Replication-job style: ``{"error": {"type": ..., "message": ...}}``."""
    return ApiAnswer(json_answer({"error": {"type": error_type, "message": message}}, status))


def text_error(message: str, status: int = 400) -> ApiAnswer:
    """Destinations and streams style: a bare string (sent as a JSON string)."""
    return ApiAnswer(json_answer(message, status))


def invalid_fields(message: str) -> ApiAnswer:
    """Stream metadata style: ``{"invalid_fields": ...}``."""
    return ApiAnswer(json_answer({"invalid_fields": message}, 400))


def message_error(message: Any, status: int = 400) -> ApiAnswer:
    """Notifications style: ``{"error": {"message": ...}}``."""
    return ApiAnswer(json_answer({"error": {"message": message}}, status))


def unauthorized(message: str = "the access token is missing, unknown or not allowed here") -> ApiAnswer:
    """401 for a missing or unknown token (or a client id the token does not own)."""
    return ApiAnswer(json_answer({"error": {"type": "unauthorized", "message": message}}, 401))


def not_found(message: str = "no such resource") -> ApiAnswer:
    """404 with a short JSON explanation."""
    return ApiAnswer(json_answer({"error": {"type": "not_found", "message": message}}, 404))


def malformed_json_response() -> Response:
    """A 200 answer whose JSON body is cut short (for the ``malformed`` fault)."""
    return Response(content=b'{"data": [{"source_id": 1, ', media_type="application/json")


def dumps(value: Any) -> str:
    """Compact JSON text."""
    return json.dumps(value, separators=(",", ":"))
