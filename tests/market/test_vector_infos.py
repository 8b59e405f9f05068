"""The market twins' info dicts (vector_utils.stack_infos) are exactly what folding Gymnasium's
VectorEnv._add_info builds, on reset (also masked) and step, in both autoreset modes."""

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from feedbackgym.envs.market.roles_vector import FlashCrashExecutionVectorEnv, FlashCrashMarketMakerVectorEnv
from feedbackgym.envs.market.vector import FlashCrashRegulatorVectorEnv

#: each twin with short episodes (several end within the test)
TWINS = [(FlashCrashRegulatorVectorEnv, {"market": {"length_s": 40, "seller_start_s": 5}}),
         (FlashCrashMarketMakerVectorEnv, {"episode_s": 60, "decision_s": 1, "market": {"seller_start_s": 20}}),
         (FlashCrashExecutionVectorEnv, {"start_s": 20, "horizon_s": 40, "decision_s": 1, "parent_size": 500})]


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


@pytest.mark.parametrize("twin,kw", TWINS, ids=lambda x: getattr(x, "__name__", ""))
@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_twin_infos_equal_gymnasiums_fold(twin, kw, mode):
    fast, ref = twin(3, autoreset_mode=mode, **kw), twin(3, autoreset_mode=mode, **kw)
    ref._stack_infos = _fold(ref)
    _equal(fast.reset(seed=4)[1], ref.reset(seed=4)[1])
    n_actions = int(fast.single_action_space.n)
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(130):
        a = rng.integers(0, n_actions, 3)
        o1, r1, t1, u1, i1 = fast.step(a)
        o2, r2, t2, u2, i2 = ref.step(a)
        assert np.array_equal(o1, o2) and np.array_equal(r1, r2) and np.array_equal(t1, t2)
        _equal(i1, i2)
        ends += int(t1.sum())
    assert ends >= 3
    mask = np.array([True, False, True])
    _equal(fast.reset(options={"reset_mask": mask})[1], ref.reset(options={"reset_mask": mask})[1])
