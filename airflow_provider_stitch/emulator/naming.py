"""Source names: derived from ``display_name`` the way Stitch names destination schemas."""

from __future__ import annotations

import re

#: A name must be shorter than this.
NAME_LENGTH_LIMIT = 50
VALID_NAME = re.compile(r"^[a-z_][a-z0-9_$]*$")


def derive_name(display_name: str) -> str:
    """Lowercase; spaces and dashes become underscores; other characters are dropped.

    A leading digit gets an underscore in front; the result is cut to fit the length limit.
    """
    text = re.sub(r"[\s\-]+", "_", display_name.strip().lower())
    text = re.sub(r"[^a-z0-9_$]", "", text)
    if text and text[0].isdigit():
        text = "_" + text
    return text[: NAME_LENGTH_LIMIT - 1]


def is_valid_name(name: str) -> bool:
    """True when ``name`` may be a source name (under 50 characters, lowercase, starts with letter/_)."""
    return len(name) < NAME_LENGTH_LIMIT and VALID_NAME.match(name) is not None
