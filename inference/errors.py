"""The error type for what a caller gave wrong (a path, a name, an option, a file's content).

Its message says what is wrong and how to fix it; the ``rasd`` command prints it on one line,
without a traceback, and exits 2. It is a ``ValueError``, so callers that catch those keep working.
"""
from __future__ import annotations

__all__ = ["UserError"]


class UserError(ValueError):
    """Something the caller gave that cannot be used; the message names it and the fix."""
