"""The lock-step twin equals single envs seeded seed, seed+1, ... (stand-in simulator)."""

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from feedbackgym.envs.market.env import FlashCrashRegulatorEnv
from feedbackgym.envs.market.vector import FlashCrashRegulatorVectorEnv
from tests.market.standin_sim import StandInSim

SHORT = {"market": {"length_s": 60, "seller_start_s": 20}, "stress_s": 30}
VARIANTS = [{}, {"scenario": "news", "decision_s": 7, "news_drop_range": [1.0, 6.0],
                 "market": {"length_s": 60, "news_time_s": 20}},
            {"scenario_mix": ["flash_crash", "news", "calm"], "seller_size_range": [1000, 8000],
             "reward": "market_liquidity"},
            {"reward": lambda c: -c["dislocation_pct"] ** 2},   # a non-linear reward: no batched fast path
            {"liquidity_features": True, "decision_s": 5}]


@pytest.fixture(autouse=True)
def standin(monkeypatch):
    from feedbackgym.reward import list_rewards, register_reward
    if "market_balanced" not in list_rewards():
        from feedbackgym.envs.market.family import FAMILY
        for name, (w, doc) in FAMILY.reward_presets.items():
            register_reward(name, w, domain="market", description=doc)
    monkeypatch.setattr(FlashCrashRegulatorEnv, "sim_class", StandInSim)


def _info_equal(vinfo, i, info, where):
    for k, v in info.items():
        if isinstance(v, dict):
            _info_equal(vinfo[k], i, v, f"{where}.{k}")
        elif isinstance(v, (int, float, np.number)):
            assert vinfo[f"_{k}"][i], (where, k)
            assert vinfo[k][i] == v, (where, k, vinfo[k][i], v)
    for k in vinfo:   # and nothing the single env lacks
        if not k.startswith("_") and k not in ("final_obs", "final_info") and not isinstance(vinfo[k], dict):
            assert vinfo[f"_{k}"][i] == (k in info), (where, k)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize("variant", range(len(VARIANTS)))
def test_twin_equals_single_envs(mode, variant, n=3, steps=150, seed=5):
    kwargs = {**SHORT, **VARIANTS[variant]}
    vec = FlashCrashRegulatorVectorEnv(n, autoreset_mode=mode, **kwargs)
    singles = [FlashCrashRegulatorEnv(**kwargs) for _ in range(n)]
    vobs, vinfo = vec.reset(seed=seed)
    for i, e in enumerate(singles):
        o, info = e.reset(seed=seed + i)
        assert np.array_equal(vobs[i], o)
        _info_equal(vinfo, i, info, "reset")
    rng = np.random.default_rng(0)
    pending, episodes = [False] * n, 0
    for t in range(steps):
        a = rng.choice(5, size=n, p=[0.9, 0.03, 0.01, 0.03, 0.03])
        vobs, vr, vterm, vtrunc, vinfo = vec.step(a)
        for i, e in enumerate(singles):
            where = f"step {t} env {i}"
            if mode == AutoresetMode.NEXT_STEP and pending[i]:
                o, info = e.reset()
                r, term = 0.0, False
                _info_equal(vinfo, i, info, where)
            else:
                o, r, term, trunc, info = e.step(a[i])
                if term and mode == AutoresetMode.SAME_STEP:
                    assert np.array_equal(vinfo["final_obs"][i], o), where
                    _info_equal(vinfo["final_info"], i, info, where)
                    o, info = e.reset()
                _info_equal(vinfo, i, info, where)
                episodes += int(term)
            pending[i] = term
            assert np.array_equal(vobs[i], o), where
            assert vr[i] == r and vterm[i] == term and not vtrunc[i], where
    assert episodes >= n


def test_bad_vector_input_raises():
    with pytest.raises(ValueError, match="num_envs"):
        FlashCrashRegulatorVectorEnv(0)
    vec = FlashCrashRegulatorVectorEnv(2, **SHORT)
    with pytest.raises(RuntimeError, match="before reset"):
        vec.step(np.zeros(2, dtype=int))
    vec.reset(seed=0)
    with pytest.raises(ValueError, match="outside Discrete"):
        vec.step(np.array([0, 7]))
    with pytest.raises(ValueError, match="2 integer actions"):
        vec.step(np.zeros(3, dtype=int))


def test_disabled_mode_and_reset_mask():
    vec = FlashCrashRegulatorVectorEnv(2, autoreset_mode="disabled", market={"length_s": 5})
    assert vec.autoreset_mode == AutoresetMode.DISABLED
    vec.reset(seed=0)
    for _ in range(5):
        _, _, term, _, _ = vec.step(np.zeros(2, dtype=int))
    assert term.all()
    with pytest.raises(RuntimeError, match="reset_mask"):
        vec.step(np.zeros(2, dtype=int))
    obs, info = vec.reset(seed=[9, None], options={"reset_mask": np.array([True, False])})
    single = FlashCrashRegulatorEnv(market={"length_s": 5})
    assert np.array_equal(obs[0], single.reset(seed=9)[0])
    assert info["_mid"].tolist() == [True, False]
    with pytest.raises(ValueError, match="reset_mask"):
        vec.reset(options={"reset_mask": np.zeros(2, dtype=bool)})
