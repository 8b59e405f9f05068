"""The autoscaling twin gives the same transitions as N single envs with the same seeds."""

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from feedbackgym.envs.cluster.autoscaling_env import ClusterAutoscalingEnv
from feedbackgym.envs.cluster.autoscaling_vector import ClusterAutoscalingVectorEnv

CONFIGS = [
    {"episode_days": 0.05},
    {"episode_days": 0.1, "action_mode": "delta", "provisioning_delay_s": 0.0, "bill_provisioning": False},
    {"traces": "synthetic", "synthetic": {"count": 3, "days": 3}, "step_s": 300, "provisioning_delay_s": 600,
     "episode_days": 0.4, "reward": "autoscaling_unserved"},
    {"episode_days": 0.05, "action_mode": "utilisation", "target_utilisations": [0.35, 0.7, 1.2]},
    {"traces": "test", "trace_order": "sequential", "random_start": False, "episode_days": 0.08,
     "reward": {"replica_hours": -1.0, "violation_minutes": -3.0, "replicas_changed": -0.1}},
]


def run_twin_vs_singles(config, mode, n=4, steps=300, seed=5):
    vec = ClusterAutoscalingVectorEnv(n, autoreset_mode=mode, **config)
    singles = [ClusterAutoscalingEnv(**config) for _ in range(n)]
    vobs, vinfo = vec.reset(seed=seed)
    sobs = []
    for i, e in enumerate(singles):
        o, info = e.reset(seed=seed + i)
        sobs.append(o)
        assert vinfo["trace_name"][i] == info["trace_name"]
        assert vinfo["history_steps"][i] == info["history_steps"]
    assert np.array_equal(vobs, np.stack(sobs))
    rng = np.random.default_rng(0)
    pending = [False] * n
    episodes = 0
    for _ in range(steps):
        a = rng.integers(0, vec.single_action_space.n, n)
        vobs, vr, vterm, vtrunc, vinfo = vec.step(a)
        assert not vterm.any()
        for i, e in enumerate(singles):
            if mode == AutoresetMode.NEXT_STEP and pending[i]:
                o, info = e.reset()
                r, trunc = 0.0, False
                assert vinfo["trace_name"][i] == info["trace_name"]
            else:
                o, r, _, trunc, info = e.step(a[i])
                final = trunc and mode == AutoresetMode.SAME_STEP
                src = vinfo["final_info"] if final else vinfo
                for k, v in info["reward_components"].items():
                    assert src["reward_components"][k][i] == v, k
                for k in ("demand_replicas", "ready_replicas", "provisioning_replicas", "desired_replicas",
                          "served_by_replicas", "time_s", "step"):
                    assert src[k][i] == info[k], k
                if trunc:
                    episodes += 1
                    for k, v in info["episode_metrics"].items():
                        assert src["episode_metrics"][k][i] == v, k
                    if final:
                        assert np.array_equal(vinfo["final_obs"][i], o)
                        o, info = e.reset()
            pending[i] = trunc
            assert vr[i] == r and vtrunc[i] == trunc
            assert np.array_equal(vobs[i], o)
    assert episodes >= n


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_twin_equals_single_envs(config, mode):
    run_twin_vs_singles(config, mode)


def test_bad_vector_inputs():
    with pytest.raises(ValueError, match="num_envs"):
        ClusterAutoscalingVectorEnv(0)
    vec = ClusterAutoscalingVectorEnv(3)
    with pytest.raises(RuntimeError, match="before reset"):
        vec.step(np.zeros(3, dtype=int))
    vec.reset(seed=0)
    with pytest.raises(ValueError, match="outside Discrete"):
        vec.step(np.array([0, 100, 1]))
    with pytest.raises(ValueError, match="3 integer actions"):
        vec.step(np.array([0, 1]))
    with pytest.raises(ValueError, match="seeds"):
        vec.reset(seed=[1, 2])
