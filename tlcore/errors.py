"""Exceptions raised by tlcore.

Every error a user can cause derives from :class:`TlcoreError`, so a CLI or a
notebook can catch one type and print a readable message instead of a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class TlcoreError(Exception):
    """Base class for every error tlcore raises on bad input."""


class ConfigError(TlcoreError, ValueError):
    """A configuration is invalid. The message names each offending field."""


class PluginError(TlcoreError):
    """A plugin is broken: it failed to import, or registered something invalid."""


class DuplicateComponentError(PluginError):
    """Two plugins registered the same name for the same kind of component."""


class UnknownComponentError(TlcoreError, LookupError):
    """A component name that no installed plugin registers."""


class WeightsUnavailableError(TlcoreError):
    """Pretrained weights could not be loaded (offline, missing or mismatching file)."""


def close_matches(word: str, candidates: Iterable[str], n: int = 5) -> list[str]:
    """Return up to ``n`` candidates that look like ``word``, best first.

    Args:
        word: The misspelt name.
        candidates: The valid names.
        n: The most matches to return.

    Returns:
        The close matches, possibly empty.
    """
    pool = list(candidates)
    matches = difflib.get_close_matches(word, pool, n=n, cutoff=0.6)
    if not matches:
        lowered = word.lower()
        matches = [c for c in pool if lowered in c.lower()][:n]
    return matches


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """Format a ``did you mean`` hint, or an empty string when nothing is close."""
    matches = close_matches(word, candidates)
    return f" Did you mean: {', '.join(matches)}?" if matches else ""
