"""The regulator twin's batched engine (all markets in one MarketBatch, the accounting kernels over
markets, step infos built as arrays) gives exactly what one RegulatorEpisode per sub-env gives --
observations, rewards, ends, infos (keys in order, dtypes, masks) and episode metrics -- in every
autoreset mode, with masked resets, config changes, mixed scenarios (trader tables of different
sizes in one batch) and episodes that end inside a multi-second decision."""

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from feedbackgym.envs.market.batch_episode import RegulatorBatch
from feedbackgym.envs.market.sim import MarketSim
from feedbackgym.envs.market.vector import FlashCrashRegulatorVectorEnv, _Episodes
from tests.market.test_vector_infos import _equal

VARIANTS = [
    {"market": {"length_s": 90, "seller_start_s": 20}, "stress_s": 40},
    # 100 s is no multiple of 7: every episode ends inside a decision
    {"scenario": "news", "decision_s": 7, "news_drop_range": [1.0, 6.0],
     "market": {"length_s": 100, "news_time_s": 30}},
    # presets with different stop tables share the batch; drawn seller sizes; a preset reward
    {"scenario_mix": ["flash_crash", "news", "calm", "mini_crash"], "seller_size_range": [1000, 8000],
     "market": {"length_s": 80, "seller_start_s": 20}, "reward": "market_liquidity"},
    {"reward": lambda c: -c["dislocation_pct"] ** 2, "market": {"length_s": 60, "seller_start_s": 10}},
    {"liquidity_features": True, "decision_s": 3, "market": {"length_s": 70, "band_pct": 5.0, "seller_start_s": 20}},
]


class PerEpisodeTwin(FlashCrashRegulatorVectorEnv):
    """The twin on its per-episode engine (one MarketSim per sub-env), the reference."""

    def _configure(self, config):
        super()._configure(config)
        self._engine = _Episodes(config, self.num_envs, MarketSim)


def _pair(n, mode, kw, threads=1):
    fast = FlashCrashRegulatorVectorEnv(n, autoreset_mode=mode, threads=threads, **kw)
    ref = PerEpisodeTwin(n, autoreset_mode=mode, **kw)
    assert isinstance(fast._engine, RegulatorBatch) and isinstance(ref._engine, _Episodes)
    return fast, ref


def _step_both(fast, ref, a):
    out1, out2 = fast.step(a), ref.step(a)
    for x, y in zip(out1[:4], out2[:4]):
        assert x.dtype == y.dtype and np.array_equal(x, y)
    _equal(out1[4], out2[4])
    return out1


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize("variant", range(len(VARIANTS)))
def test_batched_engine_equals_per_episode_engine(variant, mode, n=4):
    fast, ref = _pair(n, mode, VARIANTS[variant])
    o1, i1 = fast.reset(seed=3)
    o2, i2 = ref.reset(seed=3)
    assert np.array_equal(o1, o2)
    _equal(i1, i2)
    rng = np.random.default_rng(variant)
    ends = 0
    for t in range(150):
        if t == 25:   # restart half of the sub-envs mid-episode: from here on episodes end at different steps
            mask = np.array([True, False, True, False])
            o1, i1 = fast.reset(options={"reset_mask": mask})
            o2, i2 = ref.reset(options={"reset_mask": mask})
            assert np.array_equal(o1, o2)
            _equal(i1, i2)
        a = rng.choice(5, size=n, p=[0.85, 0.05, 0.02, 0.04, 0.04])
        ends += int(_step_both(fast, ref, a)[2].sum())
    assert ends >= n
    # a config change (a new batch)
    o1, i1 = fast.reset(seed=8, options={"config": {"scenario": "mini_crash"}})
    o2, i2 = ref.reset(seed=8, options={"config": {"scenario": "mini_crash"}})
    assert np.array_equal(o1, o2)
    _equal(i1, i2)
    for _ in range(20):
        _step_both(fast, ref, rng.integers(0, 5, n))


def test_disabled_mode_with_staggered_resets(n=3):
    kw = {"market": {"length_s": 40, "seller_start_s": 10}, "stress_s": 20}
    fast, ref = _pair(n, AutoresetMode.DISABLED, kw)
    _equal(fast.reset(seed=1)[1], ref.reset(seed=1)[1])
    rng = np.random.default_rng(1)
    for _ in range(2):
        for _ in range(40):
            _step_both(fast, ref, rng.integers(0, 5, n))
        for i in range(n):   # restart one sub-env at a time; the others wait, ended
            mask = np.arange(n) == i
            o1, i1 = fast.reset(options={"reset_mask": mask})
            o2, i2 = ref.reset(options={"reset_mask": mask})
            assert np.array_equal(o1, o2)
            _equal(i1, i2)


@pytest.mark.parametrize("variant", [0, 4])
def test_threads_step_the_same_markets(variant, n=5):
    """Slices of the batch stepped by 3 threads (5 markets: uneven slices) give the same transitions."""
    fast, ref = _pair(n, AutoresetMode.NEXT_STEP, VARIANTS[variant], threads=3)
    assert fast._engine.batch.threads == 3
    _equal(fast.reset(seed=5)[1], ref.reset(seed=5)[1])
    rng = np.random.default_rng(variant)
    ends = 0
    for _ in range(100):
        ends += int(_step_both(fast, ref, rng.integers(0, 5, n))[2].sum())
    assert ends >= n
    assert fast._engine.batch._pool is not None   # the slices did run on the pool


def test_threads_argument_is_checked():
    for bad in (0, -2, 1.5, True, "2"):
        with pytest.raises(ValueError, match="threads"):
            FlashCrashRegulatorVectorEnv(2, threads=bad)


def test_bench_passes_twin_kwargs_to_the_twin_only(capsys, tmp_path):
    import json

    from feedbackgym.cli import main
    out = tmp_path / "bench.json"
    argv = ["bench", "FlashCrashRegulator-v0", "--num-envs", "4", "--steps", "8", "--repeats", "1",
            "--min-seconds", "0", "--only", "raw,twin", "--env-kwargs", '{"market": {"length_s": 30}}']
    assert main(argv + ["--twin-kwargs", '{"threads": 2}', "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["twin_kwargs"] == {"threads": 2} and data["env_kwargs"] == {"market": {"length_s": 30}}
    assert {r["name"] for r in data["rows"]} == {"single (raw)", "vector twin"}  # the single env took no threads
    capsys.readouterr()
    assert main(argv + ["--twin-kwargs", "[2]"]) != 0
    assert "--twin-kwargs: expected a JSON object" in capsys.readouterr().err
