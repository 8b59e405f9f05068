"""The market's PettingZoo view (``feedbackgym.envs.market.multiagent``; extra ``multiagent``)."""

import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("pettingzoo")

from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test  # noqa: E402

from feedbackgym.envs.market.multiagent import (  # noqa: E402
    DUMP_ACTION, EXEC_ACTION_NAMES, MAKER_ACTION_NAMES, MAKER_ACTIONS, PULL_ACTION, FlashCrashMultiAgentEnv, RuleMaker,
    maker_action, parallel_env, raw_env)

SHORT = {"market": {"length_s": 240, "seller_start_s": 60}, "stress_s": 120}


def _play(env, seed, policy_seed=0):
    """A whole episode under seeded random actions; the per-step record."""
    obs, infos = env.reset(seed=seed)
    rng = np.random.default_rng(policy_seed)
    rec = [(obs, None, infos)]
    while env.agents:
        actions = {a: int(rng.integers(env.action_space(a).n)) for a in env.agents}
        if "regulator" in actions:
            actions["regulator"] = int(rng.random() < 0.02)   # mostly continue, sometimes pause
        obs, rew, term, trunc, infos = env.step(actions)
        rec.append((obs, rew, infos))
    return rec


def _same(a, b) -> bool:
    for (o1, r1, _), (o2, r2, _) in zip(a, b):
        if set(o1) != set(o2) or any(not np.array_equal(o1[k], o2[k]) for k in o1) or r1 != r2:
            return False
    return len(a) == len(b)


def test_pettingzoo_parallel_api_and_seed_tests():
    kw = {**SHORT, "agent_makers": 2, "executors": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        parallel_api_test(parallel_env(**kw), num_cycles=300)
    parallel_seed_test(lambda: parallel_env(**kw), num_cycles=300)


def test_aec_view_passes_pettingzoo_api_test():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        api_test(raw_env(**SHORT, agent_makers=1), num_cycles=50)


def test_agents_spaces_and_counts():
    env = parallel_env(**SHORT, agent_makers=3, executors=2)
    assert env.possible_agents == ["regulator", "maker_0", "maker_1", "maker_2", "executor_0", "executor_1"]
    assert env.action_space("regulator") == gym.spaces.Discrete(5)
    assert env.action_space("maker_1") == gym.spaces.Discrete(len(MAKER_ACTIONS))
    assert env.action_space("executor_0") == gym.spaces.Discrete(len(EXEC_ACTION_NAMES)) == gym.spaces.Discrete(14)
    obs, infos = env.reset(seed=1)
    for a in env.possible_agents:
        assert env.observation_space(a).contains(obs[a]), a
        assert len(env.feature_names[a]) == env.observation_space(a).shape[0]
    only_makers = parallel_env(**SHORT, regulator=False, agent_makers=1, regulator_rule="stop_logic")
    assert only_makers.possible_agents == ["maker_0"]
    only_exec = parallel_env(**SHORT, regulator=False, agent_makers=0, executors=1)
    assert only_exec.possible_agents == ["executor_0"]


@pytest.mark.parametrize("kwargs,match", [
    ({"regulator": False, "agent_makers": 0, "executors": 0}, "at least one agent"),
    ({"agent_makers": 10, "executors": 7}, "at most 16"),
    ({"agent_makers": 11}, "rule makers to replace"),
    ({"maker_reward": {"pnl": 1.0}}, "unknown component"),
    ({"maker_reward": "maker_greedy"}, "maker_quadratic"),
    ({"executor_reward": {"shortfall_bps": float("nan")}}, "finite"),
    ({"executor_reward": "exec_greedy"}, "exec_balanced"),
    ({"regulator_rule": "always"}, "regulator_rule"),
    ({"bogus": 1}, "bogus"),
])
def test_bad_config_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        parallel_env(**SHORT, **kwargs)


def test_bad_actions_raise():
    env = parallel_env(**SHORT, agent_makers=1)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="outside Discrete"):
        env.step({"regulator": 0, "maker_0": len(MAKER_ACTIONS)})
    with pytest.raises(ValueError, match="not an integer"):
        env.step({"regulator": 0.5, "maker_0": 1})
    with pytest.raises(ValueError, match="unknown or finished"):
        env.step({"regulator": 0, "maker_7": 1})
    with pytest.raises(ValueError, match="config"):
        env.reset(seed=0, options={"config": {"agent_makers": 2}})


def test_same_seed_same_episode_different_seed_differs():
    kw = {**SHORT, "agent_makers": 2, "executors": 1}
    a = _play(parallel_env(**kw), seed=3)
    b = _play(parallel_env(**kw), seed=3)
    c = _play(parallel_env(**kw), seed=4)
    assert _same(a, b)
    assert not _same(a, c)
    env = parallel_env(**kw)       # a reused env replays the episode too
    _play(env, seed=9)
    assert _same(_play(env, seed=3), a)


def test_regulator_only_view_equals_the_regulator_env():
    """With no makers or executors the view is FlashCrashRegulator-v0, transition for transition."""
    single = gym.make("feedbackgym/FlashCrashRegulator-v0", **SHORT).unwrapped
    multi = parallel_env(**SHORT, agent_makers=0)
    o1, _ = single.reset(seed=5)
    o2, _ = multi.reset(seed=5)
    assert np.array_equal(o1, o2["regulator"])
    rng = np.random.default_rng(0)
    done = False
    while not done:
        a = int(rng.integers(5)) if rng.random() < 0.05 else 0
        o1, r1, done, _, i1 = single.step(a)
        o2, r2, term, _, i2 = multi.step({"regulator": a})
        assert np.array_equal(o1, o2["regulator"]) and r1 == r2["regulator"] and done == term["regulator"]
    for k, v in i1["episode_metrics"].items():
        if not k.startswith("actions_"):
            assert i2["regulator"]["episode_metrics"][k] == pytest.approx(v, nan_ok=True), k


def test_maker_accounting_pnl_and_cap():
    env = parallel_env(**{**SHORT, "market": {**SHORT["market"], "seller_size": 3000}}, agent_makers=2,
                       regulator=False)
    obs, infos = env.reset(seed=2)
    rule = RuleMaker()
    pnl_sum = {a: 0.0 for a in env.agents}
    reward_sum = 0.0
    while env.agents:
        actions = {"maker_0": rule.act(obs["maker_0"], infos["maker_0"]), "maker_1": PULL_ACTION}
        obs, rew, term, trunc, infos = env.step(actions)
        for a in rew:
            c = infos[a]["reward_components"]
            pnl_sum[a] += c["spread_pnl"] + c["inventory_pnl"]
        c = infos["maker_0"]["reward_components"]
        reward_sum += rew["maker_0"]
        assert rew["maker_0"] == pytest.approx(c["spread_pnl"] + c["inventory_pnl"] - 0.5 * c["inventory_sq"]
                                               - 0.5 * c["at_cap_s"])   # maker_quadratic
    m = infos["maker_0"]["episode_metrics"]
    assert m["maker_0_volume"] > 0, "a quoting maker trades"
    assert m["maker_0_pnl"] == pytest.approx(pnl_sum["maker_0"])
    assert m["maker_0_episode_reward"] == pytest.approx(reward_sum)
    # quote sizes are re-cut every second; another agent's market order may fill a stale quote first
    assert m["maker_0_max_abs_inventory"] <= env.params.maker_inventory_cap + env._quote_size
    assert m["maker_1_volume"] == 0 and m["maker_1_pnl"] == 0.0, "a maker that always pulls never trades"


def test_maker_menu_is_the_maker_envs():
    assert len(MAKER_ACTIONS) == len(MAKER_ACTION_NAMES) == 22
    assert MAKER_ACTION_NAMES[maker_action(2, 0)] == "half2_skew+0"
    assert MAKER_ACTION_NAMES[maker_action(8, 3.5)] == "half8_skew+4"
    assert maker_action(1, 0, pull=True) == PULL_ACTION and maker_action(1, 0, dump=True) == DUMP_ACTION


def test_quotes_respect_the_cap_every_second():
    env = parallel_env(**SHORT, agent_makers=1, regulator=False, maker_inventory_cap=10, decision_s=20)
    env.reset(seed=4)
    worst = 0
    while env.agents:   # lean to buy, 20 seconds per step: sizes are re-cut each second
        _, _, _, _, infos = env.step({"maker_0": maker_action(1, -4)})
        worst = max(worst, infos["maker_0"]["episode_metrics"]["maker_0_max_abs_inventory"]
                    if "episode_metrics" in infos["maker_0"] else abs(infos["maker_0"]["inventory"]))
    assert 0 < worst <= 10


def test_dump_sells_towards_flat_a_second_after_the_pull():
    env = parallel_env(**SHORT, agent_makers=1, regulator=False)
    env.reset(seed=0)
    inv = 0
    for _ in range(200):            # lean to buy until long
        env.step({"maker_0": maker_action(1, -4)})
        inv = int(env.book.inventory()[0])
        if inv >= 30:
            break
    assert inv >= 30
    env.step({"maker_0": DUMP_ACTION})   # quotes pulled now, the market order one second later
    inv = int(env.book.inventory()[0])
    _, _, _, _, infos = env.step({"maker_0": PULL_ACTION})
    assert int(env.book.inventory()[0]) == inv - 20   # maker_dump_size


def test_executor_sells_and_is_penalised_once_for_the_rest():
    kw = {**SHORT, "regulator": False, "executors": 3, "agent_makers": 0, "executor_size": 400,
          "executor_deadline_s": 120}
    env = parallel_env(**kw)
    env.reset(seed=0)
    pov25, idle, twap = EXEC_ACTION_NAMES.index("pov_25pct"), EXEC_ACTION_NAMES.index("pace_x0"), \
        EXEC_ACTION_NAMES.index("pace_x1")
    unfilled = {a: [] for a in env.possible_agents}
    sold_after_deadline = 0.0
    while env.agents:
        _, rew, _, _, infos = env.step({"executor_0": pov25, "executor_1": idle, "executor_2": twap})
        for a in unfilled:
            c = infos[a]["reward_components"]
            unfilled[a].append(c["unfilled_frac"])
            assert rew[a] == pytest.approx(-0.01 * c["shortfall_bps"] - 10 * c["unfilled_frac"]
                                           - 0.5 * c["drawdown_pct"])   # exec_balanced
        if infos["executor_2"]["time_s"] > 60 + 120:
            sold_after_deadline += infos["executor_2"]["reward_components"]["shortfall_bps"] != 0
    m = infos["executor_0"]["episode_metrics"]
    assert m["executor_0_sold"] > 0 and m["executor_1_sold"] == 0
    assert m["executor_2_sold"] >= 0.95 * 400, "pace x1 (the catch-up rate) finishes by the deadline"
    assert sold_after_deadline == 0
    assert sum(x > 0 for x in unfilled["executor_1"]) == 1 and max(unfilled["executor_1"]) == 1.0
    assert m["executor_0_shortfall_bps"] == pytest.approx(infos["executor_0"]["shortfall_bps"])


def test_import_feedbackgym_does_not_import_pettingzoo():
    code = "import sys, feedbackgym; import gymnasium as g; g.make('feedbackgym/FlashCrashRegulator-v0'); " \
           "sys.exit(1 if 'pettingzoo' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_class_docstring_has_the_sections():
    doc = FlashCrashMultiAgentEnv.__doc__
    for section in ("## Description", "## Action Spaces", "## Observation Spaces", "## Rewards",
                    "## Starting State", "## Episode End", "## Arguments", "## Version History"):
        assert section in doc
