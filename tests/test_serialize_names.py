"""Any name is a name: entries called like ``np.savez``'s own options (``allow_pickle``, ``file``)
are saved and loaded as arrays like any other, in both formats, and the .npz file stays one
NumPy reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule as cr


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_names_that_are_numpy_options_round_trip(tmp_path: Path, suffix: str) -> None:
    arrays = {
        "allow_pickle": np.arange(3.0),
        "file": np.ones((2, 2), np.float32),
        "args": np.array([7], np.int64),
        "w": np.zeros(1),
    }
    path = cr.save(dict(arrays), tmp_path / f"names{suffix}")
    loaded = cr.load(path)
    assert set(loaded) == set(arrays)
    for name, array in arrays.items():
        assert loaded[name].dtype == array.dtype and np.array_equal(loaded[name], array)
    if suffix == ".npz":
        with np.load(path) as archive:  # still a plain NumPy archive
            assert np.array_equal(archive["allow_pickle"], arrays["allow_pickle"])
