"""How many threads BLAS gets while ``fit`` trains: ``fit(threads="auto")``.

Measured on the 2-core machine of ``benchmarks/`` (``benchmarks/README.md``,
"Busy machines"): with one other process busy on a core, the digits MLP of
``examples/`` took 16 s with OpenBLAS's two threads and 7 s with one, because
BLAS threads that wait for each other on a busy core make small matrix products
many times slower; on an idle machine two threads win for the big layers. So
``fit`` measures instead of guessing (below). It needs ``threadpoolctl``
(``pip install threadpoolctl``, part of the ``fast`` extra); without it BLAS
is left alone, and ``OPENBLAS_NUM_THREADS=1`` does the same by hand.
"""

from __future__ import annotations

from typing import Any


class BlasThreads:
    """The BLAS thread count for the training steps: ``setting`` is ``"auto"``, an int, or
    None (leave BLAS alone).

    ``"auto"``: whether one thread or BLAS's own count is faster depends on the
    layers and on what else the machine runs at that moment, so after a warm-up
    batch, batches take turns with each setting until each has ``PROBES`` timings,
    and the faster median is kept for the rest of ``fit`` (``History.blas_threads``
    says which). Thread counts change only the speed: BLAS splits a product by
    output blocks, so every number is the same either way.
    """

    PROBES = 3

    def __init__(self, setting: Any) -> None:
        self.setting = setting
        self.chosen: int | None = None
        self._limit: Any = None  # threadpoolctl's limit while one is set
        self._times: dict[int, list[float]] = {}
        self._order: list[int] = []  # the settings still to time, the one in use first
        self._warming_up = False  # the first batch (a warm-up, with BLAS's own count) is not counted
        self._controller = _threadpool_controller() if setting is not None else None
        counts = (
            [p.num_threads for p in self._controller.lib_controllers if p.user_api == "blas"]
            if self._controller is not None
            else []
        )
        self.default = max(counts, default=None)
        if self.default is None:
            self.setting = None
        elif setting != "auto":
            self._set(int(setting))
        elif self.default <= 1:
            self.setting, self.chosen = None, 1
        else:
            self._order, self._warming_up = [self.default, 1] * self.PROBES, True

    def timed(self, seconds: float) -> None:
        """One batch took ``seconds`` with the current setting; pick the next."""
        if self.setting != "auto" or self.chosen is not None:
            return
        if self._warming_up:
            self._warming_up = False
        else:
            self._times.setdefault(self._order.pop(0), []).append(seconds)
        if self._order:
            self._set(self._order[0])
            return
        self._set(min(self._times, key=lambda n: sorted(self._times[n])[len(self._times[n]) // 2]))

    def _set(self, n: int) -> None:
        if self._limit is not None:
            self._limit.restore_original_limits()
        controller = self._controller  # not None: without one, the setting is None and nothing is set
        self._limit = (
            controller.limit(limits=n, user_api="blas") if n != self.default and controller is not None else None
        )
        self.chosen = n if self.setting != "auto" or not self._order else None

    def close(self) -> None:
        """Give BLAS its own thread count back."""
        if self._limit is not None:
            self._limit.restore_original_limits()
            self._limit = None


def _threadpool_controller() -> Any:
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()
