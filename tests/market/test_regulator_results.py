"""The committed regulator results (results/market/regulator/) are what the committed models and
rules produce, and the table's claims follow from the per-episode records."""

import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results" / "market" / "regulator"
MODELS = ROOT / "results" / "market" / "models"

pytestmark = pytest.mark.skipif(not (RESULTS / "summary.json").is_file(), reason="no committed regulator results")


def _raw(name):
    return json.loads((RESULTS / "raw" / f"{name}.json").read_text())


def test_summary_follows_from_the_records():
    summary = json.loads((RESULTS / "summary.json").read_text())
    for name, stats in summary["policies"].items():
        records = _raw(name)["records"]
        assert stats["overall"]["composite_loss"] == pytest.approx(np.mean([r["composite_loss"] for r in records]))
        for setting, by in stats["by_setting"].items():
            sel = [r["halted_s"] for r in records if r["setting"] == setting]
            assert len(sel) == len(summary["seeds"]) and by["halted_s"] == pytest.approx(np.mean(sel))
    rules = [p for p in ("stop_logic", "dynamic_cb", "luld", "mwcb") if p in summary["policies"]]
    best = min(rules, key=lambda p: summary["policies"][p]["overall"]["composite_loss"])
    assert summary["best_rule"] == best
    for agent, v in summary["verdicts"].items():
        reduction = 1 - summary["policies"][agent]["overall"]["composite_loss"] / \
            summary["policies"][best]["overall"]["composite_loss"]
        assert v["loss_reduction_vs_best_rule"] == pytest.approx(reduction)


def test_test_seeds_are_held_out_of_training_and_validation():
    summary = json.loads((RESULTS / "summary.json").read_text())
    assert min(summary["seeds"]) >= 10_000


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["stop_logic", "ppo"])
def test_a_recorded_episode_replays(policy):
    import gymnasium as gym

    import feedbackgym  # noqa: F401
    from feedbackgym.agents.policy import make_policy
    from feedbackgym.agents.rollout import run_episode
    from feedbackgym.family import PlannedEpisode

    data = _raw(policy)
    rec = next(r for r in data["records"] if r["setting"] == "mini_crash")
    seed = data["seeds"][0]
    env = gym.make("feedbackgym/FlashCrashRegulator-v0", scenario="mini_crash", **data["env_kwargs"])
    spec = policy if policy == "stop_logic" else str(MODELS / f"regulator_{policy}.zip")
    with _quiet():
        replay = run_episode(env, make_policy("feedbackgym/FlashCrashRegulator-v0", spec, env),
                             PlannedEpisode(seed, {}, None))
    assert replay["composite_loss"] == pytest.approx(rec["composite_loss"], rel=1e-6)
    assert replay["halted_s"] == rec["halted_s"]


class _quiet:
    def __enter__(self):
        import warnings
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore")   # the model warns that its training env mixed scenarios

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)
