"""A named, ordered catalogue of built-in items (program lessons, mistakes): list, names, lookup."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

from ..errors import ParamError

T = TypeVar("T")


class Catalogue(Generic[T]):
    """Built-in items with a ``slug`` each, in menu order; ``kind`` names them in error messages.

    Parameters
    ----------
    kind : str
        What the items are, e.g. ``"program lesson"``.
    items : sequence
        The items, each with a unique ``slug``.
    """

    def __init__(self, kind: str, items: Sequence[T]):
        self.kind = kind
        self.items: tuple[T, ...] = tuple(items)
        self._by_slug = {item.slug: item for item in self.items}
        if len(self._by_slug) != len(self.items):
            raise ValueError(f"two built-in {kind}s share a slug")

    def names(self) -> list[str]:
        """Every slug, in menu order."""
        return [item.slug for item in self.items]

    def get(self, slug: str) -> T:
        """The item called ``slug``; an unknown one is a :class:`ParamError` listing the valid slugs."""
        try:
            return self._by_slug[slug]
        except (KeyError, TypeError):
            raise ParamError(f"unknown {self.kind} {slug!r}; valid: {', '.join(self.names())}") from None
