"""``F.batch_norm``'s running statistics go together: one without the other is an
OptionError naming the missing one, raised before anything is updated (found by mypy:
the training update read a ``running_var`` of None after writing ``running_mean``)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.errors import OptionError


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("missing", ["running_mean", "running_var"])
def test_one_running_statistic_without_the_other_is_refused(training: bool, missing: str) -> None:
    x = cr.Variable(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32))
    mean, var = np.zeros(3, np.float32), np.ones(3, np.float32)
    given = {"running_mean": mean, "running_var": var, missing: None}
    with pytest.raises(OptionError, match=f"batch_norm: {missing}=None must be given with the other"):
        F.batch_norm(x, given["running_mean"], given["running_var"], training=training)
    assert not mean.any() and (var == 1).all()  # nothing was updated


def test_both_or_neither_still_work() -> None:
    x = cr.Variable(np.random.default_rng(1).standard_normal((4, 3)))
    mean, var = np.zeros(3), np.ones(3)
    F.batch_norm(x, mean, var, training=True)
    assert mean.any()  # the running statistics were updated
    out = F.batch_norm(x, None, None, training=True)
    assert np.allclose(np.mean(out.value, axis=0), 0.0, atol=1e-6)
