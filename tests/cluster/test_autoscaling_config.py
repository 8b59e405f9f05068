"""Bad autoscaling configs, actions and trace files fail early with errors that name the field."""

import pytest

from feedbackgym.envs.cluster.autoscaling_config import AutoscalingConfig
from feedbackgym.envs.cluster.autoscaling_env import ClusterAutoscalingEnv


@pytest.mark.parametrize("kwargs, match", [
    ({"step_s": 45}, "step_s"),
    ({"provisioning_delay_s": 90}, "provisioning_delay_s: expected a multiple of step_s"),
    ({"provisioning_delay_s": -60}, "provisioning_delay_s"),
    ({"min_replicas": 0}, "min_replicas"),
    ({"min_replicas": 10, "max_replicas": 5}, "min_replicas: expected <= max_replicas"),
    ({"initial_replicas": 101}, "initial_replicas"),
    ({"p99_demand_replicas": [30, 3]}, "p99_demand_replicas"),
    ({"p99_demand_replicas": 0}, "p99_demand_replicas"),
    ({"initial_utilisation": 0.0}, "initial_utilisation"),
    ({"episode_days": 0}, "episode_days"),
    ({"p99_demand_replicas": float("nan")}, "p99_demand_replicas"),
    ({"action_mode": "absolute"}, "action_mode"),
    ({"scale_deltas": [1, 1]}, "scale_deltas"),
    ({"scale_deltas": [0.5]}, "scale_deltas"),
    ({"synthetic": {"seeds": 3}}, "synthetic"),
    ({"synthetic": {"count": 0}}, "synthetic.count"),
    ({"violation_minute_cost": -1}, "violation_minute_cost"),
    ({"trace_order": "shuffled"}, "trace_order"),
    ({"random_start": "yes"}, "random_start"),
])
def test_bad_config_names_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AutoscalingConfig(**kwargs)


def test_unknown_field_and_reward_component():
    with pytest.raises(ValueError, match="unknown field"):
        ClusterAutoscalingEnv(replicas=3)
    with pytest.raises(ValueError, match="does not compute"):
        ClusterAutoscalingEnv(reward={"bitrate_mbps": 1.0})
    with pytest.raises(ValueError, match="unknown reward"):
        ClusterAutoscalingEnv(reward="no_such_reward")


def test_missing_trace_folder_is_named(tmp_path):
    with pytest.raises(ValueError, match="no_such_dir"):
        ClusterAutoscalingEnv(traces=str(tmp_path / "no_such_dir"))


def test_bad_trace_row_names_file_line_column(tmp_path):
    p = tmp_path / "vm9.csv"
    p.write_text("Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\t"
                 "Memory capacity provisioned [KB];\tMemory usage [KB]\n"
                 "1372636800;\t1;\t1000;\t10;\t100;\t10\n"
                 "1372637100;\t1;\t1000;\tlots;\t100;\t10\n")
    with pytest.raises(ValueError, match=r"vm9.csv: line 3, column 4"):
        ClusterAutoscalingEnv(traces=str(p))


def test_idle_trace_cannot_be_scaled(tmp_path):
    p = tmp_path / "vm8.csv"
    p.write_text("Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\t"
                 "Memory capacity provisioned [KB];\tMemory usage [KB]\n"
                 + "".join(f"{1372636800 + 300 * i};\t1;\t1000;\t0;\t100;\t10\n" for i in range(5)))
    with pytest.raises(ValueError, match="vm8.*99th percentile"):
        ClusterAutoscalingEnv(traces=str(p))


def test_bad_actions_and_reset_options():
    env = ClusterAutoscalingEnv(episode_days=0.01)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="outside Discrete"):
        env.step(env.action_space.n)
    with pytest.raises(ValueError, match="expected an integer"):
        env.step(1.5)
    with pytest.raises(ValueError, match="trace_index"):
        env.reset(options={"trace_index": 99})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"start": 3})
    with pytest.raises(ValueError, match="may not change the action"):
        env.reset(options={"config": {"max_replicas": 10}})
    env.reset(options={"config": {"provisioning_delay_s": 0.0}})
    assert env.setup.delay_steps == 0


def test_test_protocol_plays_every_test_trace_whole():
    env = ClusterAutoscalingEnv(**AutoscalingConfig.evaluation_overrides())
    assert env.num_traces == 10
    _, info = env.reset(seed=0, options={"trace_index": 3})
    assert info["start_step"] == 0 and info["episode_steps"] == env.setup.demand.steps[3]
