"""The regulator twin's info dicts are exactly what folding Gymnasium's VectorEnv._add_info builds."""

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from feedbackgym.envs.market.vector import FlashCrashRegulatorVectorEnv


def _fold(env):
    def stack(rows):
        out: dict = {}
        for i, info in rows:
            out = env._add_info(out, info, i)
        return out
    return stack


def _equal(a, b, path="info"):
    assert list(a) == list(b), path
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, dict):
            _equal(x, y, f"{path}.{k}")
        elif isinstance(x, np.ndarray) and x.dtype != object:
            assert x.dtype == y.dtype and x.shape == y.shape, f"{path}.{k}"
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), f"{path}.{k}"
        else:
            assert len(x) == len(y), f"{path}.{k}"
            for u, v in zip(x, y):
                assert (u is None and v is None) or np.array_equal(u, v), f"{path}.{k}"


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_twin_infos_equal_gymnasiums_fold(mode):
    kw = {"market": {"length_s": 40, "seller_start_s": 5}, "autoreset_mode": mode}
    fast, ref = FlashCrashRegulatorVectorEnv(3, **kw), FlashCrashRegulatorVectorEnv(3, **kw)
    ref._stack_infos = _fold(ref)
    fast.reset(seed=4)
    ref.reset(seed=4)
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(90):
        a = rng.integers(0, 5, 3)
        o1, r1, t1, u1, i1 = fast.step(a)
        o2, r2, t2, u2, i2 = ref.step(a)
        assert np.array_equal(o1, o2) and np.array_equal(r1, r2) and np.array_equal(t1, t2)
        _equal(i1, i2)
        ends += int(t1.sum())
    assert ends >= 3
