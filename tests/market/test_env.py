"""The registered regulator env on the real simulator: trajectory columns, the test protocol,
halts as the exchange sees them."""

import gymnasium as gym
import numpy as np

import feedbackgym  # noqa: F401
from feedbackgym import family
from feedbackgym.envs.market.sim import HALT, PAUSE

ENV_ID = "feedbackgym/FlashCrashRegulator-v0"
TINY = {"market": {"length_s": 40, "seller_start_s": 10}, "stress_s": 20}
TRAJECTORY_COLUMNS = {"episode", "step", "time_s", "mid", "best_bid", "best_ask", "spread_ticks", "depth_bid",
                      "depth_ask", "volume", "halted", "fundamental", "action", "reward"}


def test_trajectory_has_the_issue_columns(tmp_path):
    from feedbackgym.agents.evaluation import evaluate, write_trajectory_csv
    result = evaluate(ENV_ID, "stop_logic", env_kwargs=TINY, episodes=2, seed=10_000, record_trajectory=True)
    rows = result.trajectory
    assert len(rows) == 2 * 40
    # a quantity that does not exist in a second (an empty book side) is an empty cell, never NaN
    assert TRAJECTORY_COLUMNS <= set().union(*rows), TRAJECTORY_COLUMNS - set().union(*rows)
    assert sum(TRAJECTORY_COLUMNS <= set(r) for r in rows) > len(rows) // 2
    assert [r["step"] for r in rows[:3]] == [0, 1, 2] and rows[-1]["episode"] == 1
    write_trajectory_csv(rows, tmp_path / "t.csv")
    header = (tmp_path / "t.csv").read_text().splitlines()[0].split(",")
    assert TRAJECTORY_COLUMNS <= set(header)


def test_protocol_interleaves_scenarios_and_caps_episodes():
    env = gym.make(ENV_ID, **TINY)
    plan = family.spec(ENV_ID).episode_plan
    full = plan(env, None, 100)
    assert len(full) == 15
    assert [p.options["config"]["scenario"] for p in full[:3]] == ["flash_crash", "mini_crash", "news"]
    assert [p.seed for p in full[:4]] == [100, 100, 100, 101]
    assert len(plan(env, 1, 0)) == 1 and len(plan(env, 4, 0)) == 4


def test_a_pause_stops_continuous_trading_and_is_counted():
    env = gym.make(ENV_ID, **TINY)
    env.reset(seed=3)
    for _ in range(5):
        env.step(0)
    _, r, _, _, info = env.step(PAUSE)
    assert info["halted"] == 1.0 and info["reward_components"]["halted_s"] == 1.0
    for _ in range(3):
        _, _, _, _, info = env.step(0)
        assert info["halted"] == 1.0 and info.get("buy_volume", 0) == 0 and info.get("sell_volume", 0) == 0
    _, _, _, _, info = env.step(HALT)              # upgrades the running pause
    assert info["halt_remaining_s"] > 200
    done = False
    while not done:
        _, _, done, _, info = env.step(0)
    m = info["episode_metrics"]
    assert m["n_halts"] == 1 and m["halted_s"] == 40 - 5 and m["actions_pause"] == 1 and m["actions_halt"] == 1


def test_same_seed_same_market_across_policies_until_they_differ():
    a, b = gym.make(ENV_ID, **TINY), gym.make(ENV_ID, **TINY)
    oa, _ = a.reset(seed=1)
    ob, _ = b.reset(seed=1)
    assert np.array_equal(oa, ob)
    for t in range(10):
        oa, *_ = a.step(0)
        ob, *_ = b.step(0 if t < 5 else PAUSE)
        assert np.array_equal(oa, ob) == (t < 5)
