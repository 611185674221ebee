"""Host buffers of finished runs, handed to the next run of the same shapes.

A fresh 128 MiB array costs a page fault per page on its first write, and for attention that was
measured at a quarter of the whole run (23 ms of a 130 ms 8×2048² run). Re-running on every edit is
what OpScope does all day, so intermediates are allocated from this pool and a timeline's buffers
come back when the timeline is gone (ARCHITECTURE.md §2: preallocate and reuse buffers).

Safety rests on one check: a buffer is taken back only when nothing but the finalizer refers to it
(``sys.getrefcount``), and numpy views, memoryviews and any Python holder all count as references.
So memory still reachable by anyone (a view on screen, a result a user kept) is never reused.
"""

from __future__ import annotations

import sys
import threading
import weakref
from collections import OrderedDict

import numpy as np

from .budget import memory_budget

#: The pool never keeps more than this many bytes of idle buffers (oldest dropped first).
MAX_IDLE_BYTES = 1 << 30


class BufferPool:
    """Idle numpy buffers by (shape, dtype), reused by :meth:`empty`; CuPy has its own pool."""

    def __init__(self, max_bytes: int = MAX_IDLE_BYTES):
        self.max_bytes = int(max_bytes)
        self._idle: OrderedDict[int, tuple[tuple, np.dtype, np.ndarray]] = OrderedDict()
        self._bytes = 0
        # Re-entrant: a finalizer can run inside any allocation, also while this thread holds the lock.
        self._lock = threading.RLock()
        self._pending: list[list] = []
        # Only buffers this pool handed out come back: results and inputs are never hoarded.
        self._issued: dict[int, weakref.ref] = {}

    @property
    def idle_bytes(self) -> int:
        """Bytes held by idle buffers."""
        self._reclaim()
        return self._bytes

    def empty(self, xp, shape, dtype) -> object:
        """An uninitialized array: a reused idle buffer when one of this shape and dtype exists."""
        shape = tuple(int(s) for s in shape)
        dtype = np.dtype(dtype)
        if xp is not np:
            return xp.empty(shape, dtype)
        self._reclaim()
        with self._lock:
            for key, (s, d, arr) in self._idle.items():
                if s == shape and d == dtype:
                    del self._idle[key]
                    self._bytes -= arr.nbytes
                    arr.setflags(write=True)  # views of it were made read-only; it owns its data
                    self._issue(arr)
                    return arr
        arr = np.empty(shape, dtype)
        self._issue(arr)
        return arr

    def _issue(self, arr: np.ndarray) -> None:
        key = id(arr)
        with self._lock:
            self._issued[key] = weakref.ref(arr, lambda _r, key=key: self._issued.pop(key, None))

    def give_back(self, holder: list) -> None:
        """Take back every array of ``holder`` that nothing else refers to (``holder`` is emptied)."""
        while holder:
            arr = holder.pop()
            # References now: ``arr`` and getrefcount's argument. Any other holder makes it 3+.
            if (isinstance(arr, np.ndarray) and self._is_issued(arr) and arr.base is None and arr.flags.owndata
                    and arr.nbytes and sys.getrefcount(arr) == 2):
                self._add(arr)
            del arr

    def recycle_when_dead(self, owner, arrays) -> None:
        """When ``owner`` (a run) is garbage, give ``arrays`` back (those nobody else holds).

        The check waits for the next :meth:`empty`: a finalizer runs while its object is being torn
        down, when the object's own attributes still refer to the arrays.
        """
        # Only this pool's own buffers: holding any other array here would keep it alive after
        # its run, until some later run asks the pool for a buffer (a run of an operation that
        # never does, such as softmax, kept every earlier result's memory: 3 GiB a run at
        # 16 × 4096²).
        with self._lock:
            holder = [a for a in arrays if isinstance(a, np.ndarray) and self._is_issued(a)]
        if holder:
            weakref.finalize(owner, self._defer, holder)

    def _is_issued(self, arr: np.ndarray) -> bool:
        ref = self._issued.get(id(arr))
        return ref is not None and ref() is arr

    def _defer(self, holder: list) -> None:
        with self._lock:
            self._pending.append(holder)

    def _reclaim(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for holder in pending:
            self.give_back(holder)

    def _add(self, arr: np.ndarray) -> None:
        with self._lock:
            if any(a is arr for _s, _d, a in self._idle.values()):
                return
            self._idle[id(arr)] = (arr.shape, arr.dtype, arr)
            self._bytes += arr.nbytes
            limit = min(self.max_bytes, memory_budget() // 4)  # never a large share of the machine
            while self._bytes > limit and self._idle:
                _key, (_s, _d, old) = self._idle.popitem(last=False)
                self._bytes -= old.nbytes

    def clear(self) -> None:
        """Drop every idle buffer (tests; or to give memory back to the system)."""
        with self._lock:
            self._idle.clear()
            self._bytes = 0
            self._pending = []


#: The process's pool.
POOL = BufferPool()
