"""How the explorer page carries numbers and sentences: as JSON the page only displays.

Every number on the page is written here, in Python, from the engine's own
arrays, twice: at full precision (``repr`` digits of its dtype, as the
narration prints it) and with a few significant digits. The page's precision
toggle picks one of the two strings; the page never does arithmetic.

The JSON shapes (the page's ``text.js`` reads them):

- a number: ``["0.18583185743835806", "0.1858"]`` (full, short);
- a sentence: ``{"k": "forward.op", "f": {"name": "linear", ...}}``, a key of
  the phrase table (``phrases.py``) with its fields, themselves texts, so the
  page can say it in either language;
- a value: a number for one element; for a tensor ``{"t": [numbers...],
  "s": sentence}``: the entries of its table (see ``Table``) and a summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .values import number, shape_text
from .values import short as digits

SHORT_DIGITS = 4  # significant digits in the page's "few digits" mode
ROWS, COLS = 6, 6  # a tensor's table shows at most this corner of it


def num(value: Any) -> list[str]:
    """One number, both ways: ``[full precision, few digits]``."""
    return [number(value), digits(value, SHORT_DIGITS)]


def phrase(key: str, **fields: Any) -> dict[str, Any]:
    """A sentence of the phrase table, said by the page in the chosen language
    (NumPy scalars become plain numbers, tuples lists, so that the fields are JSON)."""
    return {"k": key, "f": {name: _plain(value) for name, value in fields.items()}}


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Table:
    """The corner of a tensor that the page shows: the first ``rows`` × ``cols`` entries
    of its 2-D view (all leading axes flattened into rows; a vector is one row)."""

    shape: tuple[int, ...]
    rows: int
    cols: int
    more_rows: bool
    more_cols: bool
    flat: tuple[int, ...]  # flat (C-order) positions of the shown entries, row by row

    def to_json(self) -> dict[str, Any]:
        labels = [", ".join(str(int(i)) for i in np.unravel_index(p, self.shape)) for p in self.flat]
        return {"r": self.rows, "c": self.cols, "mr": self.more_rows, "mc": self.more_cols, "idx": labels}


def table_for(shape: tuple[int, ...]) -> Table | None:
    """The table of a tensor of this shape; None for one element (shown as a number) or none."""
    size = int(np.prod(shape)) if shape else 1
    if size <= 1:
        return None
    n_cols = shape[-1]
    n_rows = size // n_cols
    rows, cols = min(n_rows, ROWS), min(n_cols, COLS)
    flat = tuple(r * n_cols + c for r in range(rows) for c in range(cols))
    return Table(tuple(shape), rows, cols, n_rows > rows, n_cols > cols, flat)


def value_json(value: Any) -> Any:
    """A node's value or gradient for the page: a number, a tensor's table and summary, or None."""
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.size == 1:
        return num(arr)
    if arr.size == 0:
        return {"t": [], "s": value_text(arr)}
    table = table_for(arr.shape)
    flat = arr.reshape(-1)
    cells = [num(flat[p]) for p in table.flat] if table is not None else []
    return {"t": cells, "s": summary(arr)}


def value_text(value: Any) -> Any:
    """A value inside a sentence: its number, or a tensor's one-line summary (its table is not repeated)."""
    arr = np.asarray(value)
    if arr.size == 1:
        return num(arr)
    if arr.size == 0:
        return phrase("value.empty", shape=shape_text(arr.shape))
    return summary(arr)


def summary(arr: np.ndarray) -> dict[str, Any]:
    """min, mean and max of a tensor (the narration's sentence for big tensors)."""
    if arr.dtype.kind not in "fiub":
        return phrase("page.tensor", shape=shape_text(arr.shape))
    values = arr.astype(np.float64, copy=False)  # the mean of a float32 tensor, read in float64
    return phrase(
        "page.summary",
        shape=shape_text(arr.shape),
        min=num(values.min()),
        mean=num(values.mean()),
        max=num(values.max()),
    )
