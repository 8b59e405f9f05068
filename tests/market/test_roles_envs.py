"""The market-maker and execution envs: accounting, caps, action menus, baselines, configs."""

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import feedbackgym  # noqa: F401  (registers the ids)
from feedbackgym.agents.baselines.market_roles import (AC_FIT, AlmgrenChriss, AvellanedaStoikovMaker,
                                                      StressedMakerRule)
from feedbackgym.envs.market.roles_episode import (EXEC_MULTIPLES, EXEC_RATES, MAKER_ACTIONS, exec_pace_action,
                                                   exec_rate_action, maker_action)
from feedbackgym.envs.market.sim import MarketSim

MAKER = "feedbackgym/FlashCrashMarketMaker-v0"
EXEC = "feedbackgym/FlashCrashExecution-v0"
ROOT = Path(__file__).resolve().parents[2]


def _episode(env, policy, seed=0):
    obs, info = env.reset(seed=seed)
    steps = []
    done = False
    t = 0
    while not done:
        a = policy(t, obs, info)
        obs, r, term, trunc, info = env.step(a)
        assert env.observation_space.contains(obs)
        steps.append((a, r, info))
        done = term or trunc
        t += 1
    return steps


# ------------------------------------------------------------------------------------ maker


def test_maker_pnl_components_add_up_and_the_cap_holds():
    env = gym.make(MAKER, episode_s=600, market={"seller_start_s": 120}, inventory_cap=20, quote_size=6)
    rng = np.random.default_rng(1)
    steps = _episode(env, lambda t, o, i: int(rng.integers(len(MAKER_ACTIONS))))
    comps = [s[2]["reward_components"] for s in steps]
    pnl = sum(c["spread_pnl"] + c["inventory_pnl"] for c in comps)
    m = steps[-1][2]["episode_metrics"]
    assert pnl == pytest.approx(m["pnl"], abs=1e-6)
    assert m["pnl"] == pytest.approx(steps[-1][2]["pnl"])
    assert m["max_abs_inventory"] <= 20
    assert all(abs(s[2]["inventory"]) <= 20 for s in steps)
    assert m["agent_volume"] > 0 and 0 < m["volume_share"] < 1
    assert m["dumped_contracts"] > 0
    # the default reward is the maker_quadratic preset of its components
    for (_, r, info) in steps[:50]:
        c = info["reward_components"]
        expect = c["spread_pnl"] + c["inventory_pnl"] - 0.5 * c["inventory_sq"] - 0.5 * c["at_cap_s"]
        assert r == pytest.approx(expect)


def test_maker_menu_round_trip_and_special_actions():
    for a, (h, s, _mode) in enumerate(MAKER_ACTIONS[:-2]):
        assert maker_action(h, s) == a
    assert MAKER_ACTIONS[maker_action(0, 0, pull=True)][2] == 1
    assert MAKER_ACTIONS[maker_action(0, 0, dump=True)][2] == 2
    assert MAKER_ACTIONS[maker_action(3.1, 100)][:2] == (4, 4)   # nearest half (log scale), skew clipped


def test_pulled_quotes_never_trade():
    env = gym.make(MAKER, episode_s=300)
    steps = _episode(env, lambda t, o, i: maker_action(0, 0, pull=True))
    assert steps[-1][2]["episode_metrics"]["agent_volume"] == 0
    assert steps[-1][2]["episode_metrics"]["two_sided_frac"] == 0


def test_avellaneda_stoikov_skews_against_inventory_and_widens_with_volatility():
    p = AvellanedaStoikovMaker()
    p.reset(None, None, {"episode_s": 2400})
    base = {"time_s": 0.0, "var_ticks2_per_s": 1.7}
    long_ = MAKER_ACTIONS[p.act(None, {**base, "inventory": 50.0})]
    flat = MAKER_ACTIONS[p.act(None, {**base, "inventory": 0.0})]
    short = MAKER_ACTIONS[p.act(None, {**base, "inventory": -50.0})]
    assert long_[1] > flat[1] == 0 > short[1]
    wide = MAKER_ACTIONS[p.act(None, {**base, "inventory": 0.0, "var_ticks2_per_s": 40.0})]
    assert wide[0] > flat[0]


def test_stressed_maker_rule_pulls_and_dumps():
    p = StressedMakerRule()
    env = gym.make(MAKER, episode_s=100)
    _, reset_info = env.reset(seed=0)
    p.reset(env, None, reset_info)
    assert p._p["pull_move_ticks"] == env.unwrapped.episode.params.maker_pull_move_ticks
    p7 = StressedMakerRule(pull_move_ticks=7.0)
    p7.reset(env, None, reset_info)
    assert p7._p["pull_move_ticks"] == 7.0
    info = {"inventory": 0.0, "inventory_cap": 50.0, "move_10s_ticks": p._p["pull_move_ticks"] + 1.0}
    assert MAKER_ACTIONS[p.act(None, info)][2] == 1
    assert MAKER_ACTIONS[p.act(None, {**info, "inventory": 45.0})][2] == 2


# -------------------------------------------------------------------------------- execution


def test_pov_9_action_is_the_scenario_seller_bit_for_bit():
    kw = {"start_s": 200, "horizon_s": 600, "parent_size": 3000}
    env = gym.make(EXEC, **kw)
    steps = _episode(env, lambda t, o, i: exec_rate_action(0.09), seed=5)
    params = env.unwrapped.config.params()
    sim = MarketSim(params)
    sim.reset(np.random.default_rng(5))
    while not sim.done:
        sim.step()
    m = steps[-1][2]["episode_metrics"]
    assert m["completion_frac"] * 3000 == sim.seller_executed_qty
    assert steps[-1][2]["executed_value"] == pytest.approx(sim.seller_executed_value, rel=0, abs=1e-9)


def test_twap_completes_in_calm_and_components_match_metrics():
    env = gym.make(EXEC, scenario="calm", start_s=100, horizon_s=600, parent_size=1200, decision_s=10)
    steps = _episode(env, lambda t, o, i: exec_pace_action(1.0))
    m = steps[-1][2]["episode_metrics"]
    assert m["completed"] == 1.0 and m["completion_frac"] == 1.0
    assert 500 <= m["completion_s"] <= 600
    comps = [s[2]["reward_components"] for s in steps]
    assert sum(c["shortfall_bps"] for c in comps) == pytest.approx(m["shortfall_bps"])
    assert sum(c["drawdown_pct"] for c in comps) == pytest.approx(m["max_drawdown_pct"])
    assert all(c["unfilled_frac"] == 0 for c in comps)
    assert m["shortfall_total_bps"] == pytest.approx(m["shortfall_bps"])


def test_waiting_misses_the_deadline_and_pays_the_penalty():
    env = gym.make(EXEC, scenario="calm", start_s=100, horizon_s=300, parent_size=1000)
    steps = _episode(env, lambda t, o, i: exec_pace_action(0.0))
    m = steps[-1][2]["episode_metrics"]
    assert steps[-1][2]["reward_components"]["unfilled_frac"] == 1.0
    assert m["completion_frac"] == 0 and m["completion_s"] == 300
    assert abs(m["shortfall_total_bps"] - 1000.0) < 100  # the penalty, plus the unsold order marked to market
    assert len(steps) == 30


def test_early_completion_runs_the_market_to_the_deadline():
    env = gym.make(EXEC, scenario="calm", start_s=100, horizon_s=600, parent_size=200, decision_s=10)
    steps = _episode(env, lambda t, o, i: exec_pace_action(3.0))
    assert steps[-1][2]["time_s"] == 700
    assert steps[-1][2]["episode_metrics"]["completed"] == 1.0


def test_exec_menu():
    assert [exec_pace_action(m) for m in EXEC_MULTIPLES] == list(range(len(EXEC_MULTIPLES)))
    assert [exec_rate_action(r) for r in EXEC_RATES] == list(range(len(EXEC_MULTIPLES),
                                                                 len(EXEC_MULTIPLES) + len(EXEC_RATES)))


def test_almgren_chriss_front_loads_and_uses_the_committed_fit():
    fit = json.loads((ROOT / "results/market/roles/impact_fit.json").read_text())["flash_crash"]
    assert AC_FIT == {"eta": fit["eta"], "gamma": fit["gamma"], "sigma": fit["sigma"]}
    p = AlmgrenChriss()
    p.reset(None, None, {"decision_s": 10.0})
    early = EXEC_MULTIPLES[p.act(None, {"time_left_s": 2400.0})]
    late = EXEC_MULTIPLES[p.act(None, {"time_left_s": 200.0})]
    assert early > 1.0 >= late
    calm = AlmgrenChriss(lam=1e-15)   # no risk aversion: the even (TWAP) schedule
    calm.reset(None, None, {"decision_s": 10.0})
    assert EXEC_MULTIPLES[calm.act(None, {"time_left_s": 2400.0})] == 1.0


# ------------------------------------------------------------------------------------ configs


@pytest.mark.parametrize("env_id, kwargs, match", [
    (MAKER, {"market": {"length_s": 100}}, "episode_s"),
    (MAKER, {"inventory_cap": 0}, "MakerConfig.inventory_cap"),
    (MAKER, {"scenario": "boom"}, "MakerConfig.scenario"),
    (MAKER, {"market": {"n_noise": -1}}, "n_noise"),
    (EXEC, {"horizon_s": 605}, "multiple of decision_s"),
    (EXEC, {"parent_size": 0}, "ExecutionConfig.parent_size"),
    (EXEC, {"reward": {"nonsense": 1.0}}, "nonsense"),
])
def test_bad_config_names_the_field(env_id, kwargs, match):
    with pytest.raises(ValueError, match=match):
        gym.make(env_id, **kwargs)


@pytest.mark.parametrize("env_id, n", [(MAKER, 22), (EXEC, 14)])
def test_out_of_space_actions_raise(env_id, n):
    env = gym.make(env_id, **({"episode_s": 100} if env_id == MAKER else {"start_s": 50, "horizon_s": 100}))
    env.reset(seed=0)
    for bad in (n, -1, 1.5, "a"):
        with pytest.raises(ValueError, match="action"):
            env.unwrapped.step(bad)


def test_a_market_swept_to_the_bottom_of_the_grid_keeps_running():
    """Seed 506 of the flash crash under POV-9 % empties the bid side down to tick 0 (stub quotes);
    the kernel's momentum and withdrawal signals then have no reference price and must not divide
    by it (a ZeroDivisionError inside the compiled kernel before the guard)."""
    env = gym.make(EXEC)
    steps = _episode(env, lambda t, o, i: exec_rate_action(0.09), seed=506)
    m = steps[-1][2]["episode_metrics"]
    assert all(np.isfinite(v) for v in m.values())
