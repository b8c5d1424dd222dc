import numpy as np
import pytest

import chainrule as cr


@pytest.fixture(autouse=True)
def _default_dtype_and_errors():
    """Every test starts at float32 and turns NumPy floating-point warnings into errors."""
    cr.set_default_dtype("float32")
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        yield
    cr.set_default_dtype("float32")
