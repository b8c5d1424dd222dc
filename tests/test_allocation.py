"""The malloc policy chainrule sets on import (ops/allocation.py): glibc keeps freed memory for
reuse, unless CHAINRULE_MALLOC=default says to leave malloc alone."""

import os
import subprocess
import sys

import pytest

PROBE = "import chainrule.ops.allocation as a; print(a.keep_freed_memory())"


def run(env_value):
    env = dict(os.environ)
    env.pop("CHAINRULE_MALLOC", None)
    if env_value is not None:
        env["CHAINRULE_MALLOC"] = env_value
    return subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True
    ).stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the policy is glibc's (Linux)")
def test_glibc_is_told_to_keep_freed_memory_unless_the_user_opts_out():
    assert run(None) == "True"
    assert run("default") == "False"
