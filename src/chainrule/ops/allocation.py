"""Where the ops' arrays get their memory: glibc's malloc, told to keep freed memory for reuse.

An eager training step allocates and frees its activations and gradients on
every step (the CIFAR-sized CNN step of benchmark W9: about 60 MiB a step, in
arrays of 256 KiB to 8 MiB). With glibc's defaults such arrays are mmapped and
unmapped, or carved from the heap whose freed top is handed back to the
kernel, so every step pays a page fault for each 4 KiB page it touches again:
measured on the 2-core VM of ``benchmarks/``, single-threaded, 15-19 ms of
system time in a 75 ms W9 step, and the digits CNN step (W7) took 1.4 ms
instead of 0.87 ms (PyTorch: 0.89 ms). With arrays below 32 MiB served from the
heap and up to 64 MiB of freed heap kept, W9 takes 55-57 ms with no system time
and the same peak memory (83 MiB above the model's).

Convolution and pooling also run on worker threads (``threads.py``), and glibc
gives each thread its own arena, whose freed memory the others' allocations
cannot reuse: W9's peak RSS was 49.6 MiB with two arenas, 44.9 MiB with one
(tracemalloc 36.1 MiB either way). So one arena serves every thread (NumPy's
buffers are big and few; Python's small objects never reach malloc).

``keep_freed_memory()`` sets those two thresholds and the one arena (Linux with
glibc; nothing elsewhere). ``chainrule.ops`` calls it once on import; set the environment
variable ``CHAINRULE_MALLOC=default`` to leave malloc as it is.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD = 32 << 20  # arrays smaller than this come from the heap and reuse freed memory
TRIM_THRESHOLD = 64 << 20  # freed memory at the heap's top kept up to this before it goes back


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to keep freed memory for reuse; True if it was told."""
    if os.environ.get("CHAINRULE_MALLOC", "").lower() == "default" or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process already runs on
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(
        mallopt(option, value) == 1
        for option, value in ((M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD), (M_ARENA_MAX, 1))
    )
