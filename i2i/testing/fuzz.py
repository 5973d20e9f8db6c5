"""Helpers for property-based fuzzing (Hypothesis) of what i2i or a plugin reads from files a
user (or an attacker) may edit: every example must end in success or one i2i error whose message
is one line, with memory staying flat.

Used by i2i's own fuzz suite (``tests/fuzz``); a plugin can fuzz its formats the same way::

    from hypothesis import given, strategies as st
    from i2i.testing.fuzz import QUICK, flat_memory, outcome

    def test_my_format(tmp_path):
        @QUICK
        @given(st.binary(max_size=200))
        def prop(data):
            (tmp_path / "x.myfmt").write_bytes(data)
            outcome(lambda: read_my_format(tmp_path / "x.myfmt"))

        with flat_memory():
            prop()

Needs ``hypothesis`` (i2i's ``test`` extra).
"""

from __future__ import annotations

import resource
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from i2i.errors import I2IError
from i2i_runtime.memory import RssSampler

__all__ = ["MAX_GROWTH_MB", "QUICK", "flat_memory", "json_values", "long", "outcome", "scalars"]

#: The default-suite budget of one property: a dozen fixed (derandomized) examples.
QUICK = settings(max_examples=12, derandomize=True, deadline=None, database=None,
                 suppress_health_check=list(HealthCheck))  # fmt: skip


def long(n: int) -> settings:
    """The ``make fuzz`` budget of one property: ``n`` random examples."""
    return settings(max_examples=n, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))  # fmt: skip


#: Most the resident memory may grow inside :func:`flat_memory`.
MAX_GROWTH_MB = 500


@contextmanager
def flat_memory(limit_mb: float = MAX_GROWTH_MB) -> Iterator[None]:
    """Fail when the process's memory grows by more than ``limit_mb`` inside: its resident set
    (sampled from a thread, relative to the start) and its kernel-recorded peak."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with RssSampler() as sampled:
        yield
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown < limit_mb, f"peak RSS grew by {grown:.0f} MB"
    assert sampled.grown / 2**20 < limit_mb, f"RSS rose by {sampled.grown / 2**20:.0f} MB"


def outcome(fn: Callable[[], Any]) -> Any:
    """Run ``fn``: its result, or the i2i error it raised, whose message must be one line
    (any other exception fails the property)."""
    try:
        return fn()
    except I2IError as e:
        msg = str(e)
        assert msg.strip() and "\n" not in msg, repr(msg)
        return e


#: JSON scalars of every awkward kind (huge ints, NaN, infinities, text, booleans).
scalars = st.one_of(
    st.integers(-5, 300),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, 1, 2, 100_000, 10**9]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.booleans(),
)
#: Small JSON documents (nested lists and objects of :data:`scalars` and null).
json_values = st.recursive(
    st.one_of(scalars, st.none()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
