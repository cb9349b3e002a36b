"""Reading Stitch's answers, the same way for both clients: status, redirects, JSON, then the models.

Every 2xx body that is not what the endpoint returns (HTML, empty, the wrong shape, nulls or text where
numbers belong, absurd nesting) becomes :class:`StitchMalformedResponseError` naming the request; an empty
or unreadable list is never read as "nothing exists".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from airflow_provider_stitch.api.endpoints import Endpoint
from airflow_provider_stitch.api.errors import StitchMalformedResponseError, StitchTransportError
from airflow_provider_stitch.api.models import JobsPage
from airflow_provider_stitch.api.transport import decode_json, embedded_error, error_from_response
from airflow_provider_stitch.api.urls import CheckedURL, UnsafeURLError, resolve_elsewhere

Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class RawResponse:
    """One HTTP answer as received, the body already read within the size cap.

    :param status: HTTP status code.
    :param headers: response headers (case-insensitive mapping of the HTTP library).
    :param body: the body bytes.
    :param charset: the charset the ``Content-Type`` named, if any.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes
    charset: str | None = None

    @property
    def text(self) -> str:
        """The body as text (UTF-8 unless the server named another charset)."""
        try:
            return self.body.decode(self.charset or "utf-8", errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Answer:
    """A decoded 2xx answer and the request it answers, for error messages.

    :param payload: the decoded JSON (None for an empty body), or a redirect's target URL.
    :param method: HTTP method of the request.
    :param path: request path.
    """

    payload: Any
    method: str
    path: str

    def malformed(self, problem: str) -> StitchMalformedResponseError:
        """The package's error for this answer.

        :param problem: what is wrong, without quoting the body.
        """
        return StitchMalformedResponseError(problem, method=self.method, path=self.path)


def read_answer(
    raw: RawResponse, endpoint: Endpoint, path: str, *, api_root: CheckedURL, secrets: Iterable[str]
) -> Answer:
    """Turn one HTTP answer into an :class:`Answer`, or raise the right error.

    :param raw: the answer.
    :param endpoint: the endpoint called.
    :param path: the request path.
    :param api_root: the checked API root (a relative ``Location`` is read against it).
    :param secrets: literal secrets to keep out of errors.
    """
    method = endpoint.method
    if endpoint.shape == "redirect" and 300 <= raw.status < 400:
        location = raw.headers.get("Location")
        if not location:
            raise StitchTransportError("redirect without a Location header", method=method, path=path)
        try:
            return Answer(resolve_elsewhere(api_root, location, what="log URL"), method, path)
        except UnsafeURLError as error:
            raise StitchMalformedResponseError(str(error), method=method, path=path) from None
    if raw.status >= 300:
        raise error_from_response(
            raw.status, raw.headers, raw.text, method=method, path=path, secrets=secrets
        )
    text = raw.text
    payload = decode_json(text, method=method, path=path)
    problem = embedded_error(payload, raw.status, text, method=method, path=path, secrets=secrets)
    if problem is not None:
        raise problem
    return Answer(payload, method, path)


def _describe(value: Any) -> str:
    return "nothing (an empty body or null)" if value is None else f"a JSON {type(value).__name__}"


def _validated(model: type[Model], item: Any, answer: Answer, where: str) -> Model:
    if item is None or isinstance(item, (list, bool, float)):
        raise answer.malformed(f"{where} should be a {model.__name__} object, got {_describe(item)}")
    try:
        return model.model_validate(item)
    except ValidationError as error:
        fields = sorted({".".join(str(part) for part in e["loc"]) or "(object)" for e in error.errors()})
        raise answer.malformed(
            f"{where} is not a valid {model.__name__} (bad fields: {', '.join(fields[:10])})"
        ) from None
    except RecursionError:
        raise answer.malformed(f"{where} is nested too deeply to read") from None


def parse_one(model: type[Model], answer: Answer) -> Model:
    """The one object of an answer.

    :param model: model of the object.
    :param answer: the answer.
    """
    return _validated(model, answer.payload, answer, "the answer")


def parse_many(model: type[Model], answer: Answer, *, wrapper_key: str | None = None) -> list[Model]:
    """The objects of an answer that is a JSON array (or holds one under ``wrapper_key``).

    :param model: model of each object.
    :param answer: the answer.
    :param wrapper_key: key of the array inside a JSON object.
    """
    payload = answer.payload
    if wrapper_key is not None:
        if not isinstance(payload, dict) or wrapper_key not in payload:
            raise answer.malformed(f"expected an object holding {wrapper_key!r}, got {_describe(payload)}")
        payload = payload[wrapper_key]
    if not isinstance(payload, list):
        raise answer.malformed(f"expected a JSON array of {model.__name__} objects, got {_describe(payload)}")
    return [_validated(model, item, answer, f"item {index}") for index, item in enumerate(payload)]


def parse_page(answer: Answer | Any) -> JobsPage:
    """A Jobs page envelope (``data``, ``page``, ``total``, ``links``); a bare array is one page.

    :param answer: the answer (or a raw payload, read as an answer of an unnamed Jobs page).
    """
    if not isinstance(answer, Answer):
        answer = Answer(answer, "GET", "(a Jobs page)")
    payload = answer.payload
    if isinstance(payload, list):
        payload = {"data": payload}
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise answer.malformed(f"expected a Jobs page with a 'data' array, got {_describe(payload)}")
    page = _validated(JobsPage, payload, answer, "the page")
    for index, row in enumerate(page.data):
        if not isinstance(row, dict):
            raise answer.malformed(f"row {index} of the page is {_describe(row)}, not an object")
    return page


def parse_rows(model: type[Model], answer: Answer, rows: list[Any]) -> list[Model]:
    """The rows of a Jobs page as models.

    :param model: ``Extraction`` or ``Load``.
    :param answer: the answer the rows came in.
    :param rows: the page's ``data``.
    """
    return [_validated(model, row, answer, f"row {index}") for index, row in enumerate(rows)]


__all__ = ["Answer", "RawResponse", "parse_many", "parse_one", "parse_page", "parse_rows", "read_answer"]
