"""Errors raised for bad user input.

Every message says what was expected, what was found and how to fix it, so a
person reading a CLI error or a UI banner knows the next step without reading
code.
"""

from __future__ import annotations


class FactoryError(Exception):
    """Base class for errors the factory reports to users."""


class TaskError(FactoryError, ValueError):
    """A task or data file does not meet the factory's expectations."""

    def __init__(self, expected: str, found: str, fix: str, *, where: str | None = None):
        self.expected = expected
        self.found = found
        self.fix = fix
        self.where = where
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}expected {expected}; found {found}. Fix: {fix}")


class ModelResolutionError(FactoryError, LookupError):
    """A model name could not be mapped to something loadable offline."""
