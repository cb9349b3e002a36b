"""The one URL check: every URL the clients connect to is read by the HTTP libraries' own parsers first.

A URL is accepted only when it is unambiguous: printable ASCII without backslashes or whitespace, no user
info, no fragment, an http(s) scheme, a plain host name or a canonical IP address, and the same host and
port for ``urllib.parse``, urllib3 (what requests connects to) and httpx (what the async client connects
to). The accepted URL is rebuilt from those parts, so what was checked is what connects.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from urllib.parse import SplitResult, urljoin, urlsplit

import httpx
from urllib3.util import parse_url

DEFAULT_BASE_URL = "https://api.stitchdata.com"
DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_NUMERIC_LOOKING = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")


class UnsafeURLError(ValueError):
    """A URL was refused before any request; the message lists every problem found.

    :param what: what the URL is (``base URL``, ``pagination link``...).
    :param problems: each reason it was refused.
    """

    def __init__(self, what: str, problems: list[str]) -> None:
        self.what = what
        self.problems = problems
        super().__init__(f"the Stitch {what} was refused: {'; '.join(problems)}")


@dataclass(frozen=True)
class CheckedURL:
    """A URL every parser reads the same way, kept as its parts.

    :param scheme: ``http`` or ``https``.
    :param host: host name (lower case) or IP address (IPv6 without brackets).
    :param port: explicit port, or None for the scheme's default.
    :param path: path (a base URL's without its trailing slash).
    :param query: query string without ``?`` (empty when none).
    """

    scheme: str
    host: str
    port: int | None
    path: str
    query: str = ""

    @property
    def origin(self) -> str:
        """``scheme://host[:port]``, the part that decides where a request goes."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.scheme}://{host}{port}"

    @property
    def is_loopback(self) -> bool:
        """True for ``localhost`` and loopback addresses."""
        return is_loopback_host(self.host)

    def __str__(self) -> str:
        return self.origin + self.path + (f"?{self.query}" if self.query else "")


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ``::1``.

    :param host: a host as a parser returned it (brackets allowed).
    """
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _character_problems(url: str) -> list[str]:
    problems = []
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url):
        problems.append("it contains whitespace or control characters")
    if "\\" in url:
        problems.append("it contains a backslash")
    if any(ord(ch) > 0x7E for ch in url):
        problems.append("it contains non-ASCII characters (write an international host in its xn-- form)")
    return problems


def _host_problems(host: str) -> list[str]:
    """Why a host (as ``urlsplit`` read it, brackets stripped) is not a plain name or canonical address."""
    if not host:
        return ["it has no host"]
    if "%" in host:
        return [f"its host {host!r} is percent-encoded or carries an IPv6 zone"]
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return [f"its host {host!r} is not a valid IPv6 address"]
        return []
    if host.endswith("."):
        return [f"its host {host!r} ends with a dot"]
    labels = host.split(".")
    if _NUMERIC_LOOKING.match(labels[-1]):
        try:
            canonical = str(ipaddress.IPv4Address(host))
        except ValueError:
            return [f"its host {host!r} looks numeric but is not a dotted IPv4 address such as 127.0.0.1"]
        return [] if canonical == host else [f"its host {host!r} is not written as {canonical}"]
    if not all(_HOST_LABEL.match(label) for label in labels):
        return [f"its host {host!r} is not a valid host name"]
    return []


def _parsers_disagree(url: str, host: str, port: int | None) -> list[str]:
    """Problems when urllib3 (requests) or httpx would connect somewhere other than ``host:port``."""
    try:
        by_urllib3 = parse_url(url)
        by_httpx = httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as error:
        return [f"the HTTP libraries cannot read it ({type(error).__name__})"]
    default = DEFAULT_PORTS.get(by_urllib3.scheme or "")
    readings = {
        ((by_urllib3.host or "").strip("[]").lower(), by_urllib3.port or default),
        ((by_httpx.host or "").lower(), by_httpx.port or default),
    }
    if readings != {(host, port or default)}:
        return ["the HTTP libraries read a different host or port in it than the check does"]
    return []


def _split(url: str, what: str) -> tuple[SplitResult, list[str]]:
    problems = _character_problems(url)
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise UnsafeURLError(what, [*problems, f"it cannot be parsed ({error})"]) from None
    return parts, problems


def parse_url_strictly(url: str, *, what: str = "base URL", allow_query: bool = False) -> CheckedURL:
    """Read an absolute http(s) URL, refusing anything two parsers could read differently.

    :param url: the URL as given.
    :param what: what the URL is, for the error message.
    :param allow_query: accept a query string (log URLs and pagination links carry one).
    :raises UnsafeURLError: listing every problem found.
    """
    if not isinstance(url, str):
        raise UnsafeURLError(what, [f"expected a URL string, got {type(url).__name__}"])
    parts, problems = _split(url, what)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        problems.append(
            f"it must start with https:// such as {DEFAULT_BASE_URL}"
            + (f" (got {parts.scheme}://)" if parts.scheme else "")
        )
    netloc = parts.netloc
    if "@" in netloc:
        problems.append("it carries user info (user:password@); put the API token in the password field")
    if parts.fragment or url.endswith("#"):
        problems.append("it has a fragment (#...)")
    if (parts.query or url.endswith("?")) and not allow_query:
        problems.append("it has a query string (?...)")
    host = (parts.hostname or "").lower()
    if "@" not in netloc:
        problems.extend(_host_problems(host))
    try:
        port = parts.port
    except ValueError:
        problems.append("its port is not a number from 1 to 65535")
        port = None
    if netloc.endswith(":") or port == 0:
        problems.append("its port is empty or 0")
    if not problems:
        problems.extend(_parsers_disagree(url, host, port))
    if problems:
        raise UnsafeURLError(what, problems)
    if port == DEFAULT_PORTS[scheme]:
        port = None
    return CheckedURL(scheme, host, port, parts.path, parts.query)


def require_secure(checked: CheckedURL, *, what: str) -> CheckedURL:
    """Allow plain HTTP only to a loopback host (an emulator on this machine).

    :param checked: a parsed URL.
    :param what: what the URL is, for the error message.
    :raises UnsafeURLError: for plain HTTP to any other host.
    """
    if checked.scheme == "http" and not checked.is_loopback:
        raise UnsafeURLError(
            what,
            [
                f"it uses plain http:// to {checked.host}; only https:// is allowed, except http:// to a "
                "loopback host (127.0.0.1, ::1, localhost)"
            ],
        )
    return checked


def check_base_url(url: str) -> CheckedURL:
    """The API root as the clients will use it: HTTPS, or HTTP to a loopback host; no query.

    :param url: the configured base URL.
    :raises UnsafeURLError: when it is ambiguous or insecure.
    """
    checked = require_secure(parse_url_strictly(url, what="base URL"), what="base URL")
    return replace(checked, path=checked.path.rstrip("/"))


def check_url(url: str, *, what: str = "base URL") -> str:
    """The canonical text of a checked URL (see :func:`check_base_url`); query allowed except in a base URL.

    :param url: URL to check.
    :param what: what the URL is, for the error message.
    """
    if what == "base URL":
        return str(check_base_url(url))
    return str(require_secure(parse_url_strictly(url, what=what, allow_query=True), what=what))


def resolve_on_api_host(base: CheckedURL, link: str, *, what: str) -> str:
    """Turn a link Stitch returned (relative or absolute) into a path and query under ``base``.

    :param base: the checked API root.
    :param link: a ``links.next`` value or a ``Location`` header.
    :param what: what the link is, for the error message.
    :raises UnsafeURLError: when it is ambiguous or leads off the API host (the token must not follow it).
    """
    if not isinstance(link, str) or not link:
        raise UnsafeURLError(what, ["it is empty or not a string"])
    problems = _character_problems(link)
    if problems:
        raise UnsafeURLError(what, problems)
    absolute = parse_url_strictly(urljoin(str(base) + "/", link), what=what, allow_query=True)
    if absolute.origin != base.origin:
        raise UnsafeURLError(what, [f"it leads to another host ({absolute.origin}); refusing to follow it"])
    if base.path and not (absolute.path == base.path or absolute.path.startswith(base.path + "/")):
        raise UnsafeURLError(what, [f"it leaves the API root {base.path}"])
    relative = absolute.path[len(base.path) :] or "/"
    return relative + (f"?{absolute.query}" if absolute.query else "")


def resolve_elsewhere(base: CheckedURL, link: str, *, what: str) -> str:
    """An absolute URL for a link that may lead to another host (a pre-signed log file), checked.

    :param base: the checked API root (a relative link is read against it).
    :param link: the ``Location`` header value.
    :param what: what the link is, for the error message.
    """
    if not isinstance(link, str) or not link:
        raise UnsafeURLError(what, ["it is empty or not a string"])
    problems = _character_problems(link)
    if problems:
        raise UnsafeURLError(what, problems)
    return check_url(urljoin(str(base) + "/", link), what=what)


__all__ = [
    "DEFAULT_BASE_URL",
    "CheckedURL",
    "UnsafeURLError",
    "check_base_url",
    "check_url",
    "is_loopback_host",
    "parse_url_strictly",
    "require_secure",
    "resolve_elsewhere",
    "resolve_on_api_host",
]
