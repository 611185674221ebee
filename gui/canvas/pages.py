"""Walking the pages a step spreads over (a slide's builds): the clicker's next shows a step's
next page before the next step. Shared by both canvases (:class:`StepPages`)."""

from __future__ import annotations

from collections.abc import Sequence


def moved_page(sub: Sequence[int], page: int, delta: int) -> int | None:
    """The page ``delta`` away from ``page`` among ``sub``, the pages of the step in play, in
    order (None: ``page`` is not one of them, or it is the first/last, so the clicker moves to
    the previous/next step instead)."""
    if not sub or page not in sub:
        return None
    k = list(sub).index(page) + delta
    return sub[k] if 0 <= k < len(sub) else None


class StepPages:
    """``next_page`` / ``previous_page`` over ``self._sub`` (the pages of the step in play) and
    ``self._page`` (the page shown), for a widget that draws a page with ``_show_page()``."""

    _sub: tuple[int, ...] = ()
    _page: int = 0

    @property
    def step_pages(self) -> tuple[int, ...]:
        """The pages the step in play spreads over (empty: one page)."""
        return self._sub

    def next_page(self) -> bool:
        """Show the next page of the step in play; False when there is none (the step is done)."""
        return self._move_page(+1)

    def previous_page(self) -> bool:
        """Show the previous page of the step in play; False when it shows its first."""
        return self._move_page(-1)

    def _move_page(self, delta: int) -> bool:
        page = moved_page(self._sub, self._page, delta)
        if page is None:
            return False
        self._page = page
        self._show_page()
        return True

    def _show_page(self) -> None:
        raise NotImplementedError
