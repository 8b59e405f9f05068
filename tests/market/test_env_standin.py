"""The regulator env, its baselines and its twin on a stand-in simulator (no order book): the
env's own logic — spaces, info, rewards, metrics, breakers as policies, config errors."""

import math
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from feedbackgym.envs.market.env import FlashCrashRegulatorEnv
from feedbackgym.envs.market.metrics import COMPONENTS, COMPOSITE_WEIGHTS, METRIC_NAMES
from feedbackgym.envs.market.sim import HALT, PAUSE, TIGHTEN_BANDS
from tests.market.standin_sim import StandInSim

SHORT = {"market": {"length_s": 400, "seller_start_s": 100}, "stress_s": 200}


@pytest.fixture(autouse=True)
def standin(monkeypatch):
    from feedbackgym.reward import list_rewards, register_reward
    if "market_balanced" not in list_rewards():
        from feedbackgym.envs.market.family import FAMILY
        for name, (w, doc) in FAMILY.reward_presets.items():
            register_reward(name, w, domain="market", description=doc)
    monkeypatch.setattr(FlashCrashRegulatorEnv, "sim_class", StandInSim)


def make(**kw):
    return FlashCrashRegulatorEnv(**{**SHORT, **kw})


def rollout(env, seed, policy=lambda t: 0):
    obs, info = env.reset(seed=seed)
    out, infos, t, done = [obs], [], 0, False
    while not done:
        obs, r, term, trunc, info = env.step(policy(t))
        out += [obs, np.array([r])]
        infos.append(info)
        done, t = term or trunc, t + 1
    return np.concatenate([np.ravel(x) for x in out]), infos


def test_checkers_are_clean():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".*not having a spec.*")   # not registered here
        check_env(make())
    sb3 = pytest.importorskip("stable_baselines3.common.env_checker")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sb3.check_env(make())


def test_spaces_and_feature_names():
    env = make()
    assert env.action_space == gym.spaces.Discrete(5)
    assert env.observation_space.shape == (len(env.feature_names),) == (50,)
    assert np.all(np.isfinite(env.observation_space.low)) and np.all(np.isfinite(env.observation_space.high))
    env = make(horizons_s=[10, 60], market={"length_s": 100, "depth_levels": 3})
    assert env.observation_space.shape == (6 + 6 + 6 + 12,)


def test_same_seed_same_episode_and_different_seeds_differ():
    a, _ = rollout(make(), 3)
    b, _ = rollout(make(), 3)
    c, _ = rollout(make(), 4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_trajectory_fields_are_scalars_in_info():
    _, infos = rollout(make(), 0)
    need = {"time_s", "mid", "best_bid", "best_ask", "spread_ticks", "depth_bid", "depth_ask", "volume", "halted",
            "fundamental"}
    for info in infos:
        assert need <= set(info), need - set(info)
        for k, v in info.items():
            if k not in ("reward_components", "episode_metrics"):
                assert isinstance(v, float) and math.isfinite(v), (k, v)
    assert infos[-1]["time_s"] == 400.0


def test_reward_is_minus_the_weighted_components_and_metrics_at_the_end():
    env = make()
    env.reset(seed=0)
    total, n, done = 0.0, 0, False
    while not done:
        _, r, done, _, info = env.step(0)
        c = info["reward_components"]
        assert set(c) == set(COMPONENTS)
        assert r == pytest.approx(-sum(COMPOSITE_WEIGHTS[k] * c[k] for k in COMPONENTS))
        total += r
        n += 1
    m = info["episode_metrics"]
    assert set(METRIC_NAMES) <= set(m)
    assert m["composite_loss"] == pytest.approx(-total / n)
    assert m["actions_continue"] == n == m["steps"]


def test_decision_s_sums_components_over_the_seconds():
    env = make(decision_s=10)
    env.reset(seed=0)
    steps, done = 0, False
    while not done:
        _, r, done, _, info = env.step(0)
        steps += 1
    assert steps == 40 and info["time_s"] == 400.0


def test_pause_and_halt_show_in_info_and_metrics():
    env = make()
    env.reset(seed=0)
    _, _, _, _, info = env.step(PAUSE)
    assert info["halted"] == 1.0 and info["halt_remaining_s"] == 4.0
    for _ in range(10):
        env.step(0)
    _, _, _, _, info = env.step(HALT)
    assert info["halted"] == 1.0 and info["reward_components"]["halted_s"] == 1.0
    done = False
    while not done:
        _, _, done, _, info = env.step(0)
    assert info["episode_metrics"]["n_halts"] == 2 and info["episode_metrics"]["halted_s"] == 5 + 300


def test_bands_off_are_left_out_of_info_and_appear_when_switched_on():
    env = make()
    _, info = env.reset(seed=0)
    assert "band_low" not in info and info["band_pct_now"] == 0.0
    _, _, _, _, info = env.step(TIGHTEN_BANDS)
    assert info["band_pct_now"] == 20.0 and info["band_low"] < info["mid"] < info["band_high"]


def test_every_breaker_plays_as_a_baseline():
    from feedbackgym.agents.baselines.market import BreakerPolicy
    for rule in ("none", "stop_logic", "dynamic_cb", "luld", "mwcb"):
        env = make()
        pol = BreakerPolicy(rule)
        obs, info = env.reset(seed=1)
        pol.reset(env, obs, info)
        done = False
        while not done:
            obs, r, done, _, info = env.step(pol.act(obs, info))
        assert math.isfinite(info["episode_metrics"]["composite_loss"]), rule


def test_luld_rule_can_switch_the_simulators_bands_on_and_the_breakers_never_see_the_fundamental():
    from feedbackgym.agents.baselines.market import BreakerPolicy
    seen = []

    class Spy(BreakerPolicy):
        def act(self, obs, info):
            from feedbackgym.envs.market.episode import exchange_view
            seen.append(set(exchange_view(info)))
            return super().act(obs, info)

    env = make(market={"length_s": 400, "seller_start_s": 100, "session_offset_s": 3600})   # 10:30: 5 % bands
    pol = Spy("luld", steer_sim_bands=True)   # the baseline itself leaves the bands off (breakers.py)
    obs, info = env.reset(seed=0)
    pol.reset(env, obs, info)
    actions = []
    for _ in range(5):
        a = pol.act(obs, info)
        actions.append(a)
        obs, _, _, _, info = env.step(a)
    assert actions[:3] == [TIGHTEN_BANDS] * 3 and info["band_pct_now"] == 5.0
    assert all("fundamental" not in s and "seller_remaining" not in s for s in seen)


def test_scenario_mix_and_ranges_draw_per_episode():
    env = make(scenario_mix=["flash_crash", "news"], seller_size_range=[1000, 9000], news_drop_range=[1, 2])
    seen = set()
    for seed in range(8):
        _, info = env.reset(seed=seed)
        seen.add(info["scenario"])
        if info["scenario"] == "flash_crash":
            assert 1000 <= info["seller_size"] <= 9000
        else:
            assert info["seller_size"] == 0 and 1 <= info["news_drop_pct"] <= 2
    assert seen == {"flash_crash", "news"}


def test_reset_config_option_changes_the_scenario_not_the_spaces():
    env = make()
    _, info = env.reset(seed=0, options={"config": {"scenario": "news"}})
    assert info["scenario"] == "news"
    with pytest.raises(ValueError, match="may not change the observation space"):
        env.reset(options={"config": {"horizons_s": [1]}})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"trace_index": 1})


@pytest.mark.parametrize("kwargs, match", [
    ({"scenario": "crash"}, "MarketConfig.scenario"),
    ({"market": {"seller_sise": 1}}, "seller_sise"),
    ({"market": {"seller_size": -1}}, "MarketParams.seller_size"),
    ({"market": {"scenario": "news"}}, "MarketConfig.market"),
    ({"decision_s": 0}, "MarketConfig.decision_s"),
    ({"horizons_s": [30, 5]}, "MarketConfig.horizons_s"),
    ({"seller_size_range": [5, 1]}, "MarketConfig.seller_size_range"),
    ({"scenario_mix": ["calm", "boom"]}, "MarketConfig.scenario_mix"),
    ({"reward": "qoe_lin"}, "abr"),
    ({"reward": {"bitrate_mbps": 1}}, "bitrate_mbps"),
    ({"colour": 1}, "unknown field"),
])
def test_bad_config_raises_naming_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FlashCrashRegulatorEnv(**kwargs)


def test_bad_actions_raise():
    env = make()
    env.reset(seed=0)
    for bad in (5, -1, 1.5, "halt"):
        with pytest.raises(ValueError, match="Discrete"):
            env.step(bad)
    env = make(market={"length_s": 3})
    env.reset(seed=0)
    for _ in range(3):
        env.step(0)
    with pytest.raises(RuntimeError, match="after the episode ended"):
        env.step(0)


def test_liquidity_features_are_opt_in_and_appended():
    plain, extra = make(), make(liquidity_features=True)
    assert extra.observation_space.shape == (54,)
    assert extra.unwrapped.feature_names[:50] == plain.unwrapped.feature_names
    assert extra.unwrapped.feature_names[50:] == ["return_prior", "maker_share_60s", "maker_inventory",
                                                   "depth_vs_normal"]
    o1, _ = plain.reset(seed=3)
    o2, _ = extra.reset(seed=3)
    for _ in range(40):
        o1, *_ = plain.step(0)
        o2, *_ = extra.step(0)
    assert np.array_equal(o1, o2[:50]) and np.all(np.isfinite(o2))
    with pytest.raises(ValueError, match="liquidity_features"):
        plain.reset(options={"config": {"liquidity_features": True}})
