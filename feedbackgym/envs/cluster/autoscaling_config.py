"""Configuration of the horizontal autoscaling env (``feedbackgym/ClusterAutoscaling-v0``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...config import boolean, interval, number, one_of, param, validate


def _traces(name, v):
    if not isinstance(v, str) or not v:
        raise ValueError(f"{name}: expected 'train', 'test', 'all', 'synthetic' or a path to a Bitbrains VM "
                         f"CSV file or folder, got {v!r}")
    return v


def _reward(name, v):
    if not (isinstance(v, (str, dict)) or callable(v)):
        raise ValueError(f"{name}: expected a reward name, weights dict, 'module:function' or callable, got {v!r}")
    return v


def _deltas(name, v):
    if (not isinstance(v, (list, tuple)) or not v
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in v)):
        raise ValueError(f"{name}: expected a non-empty list of integer replica changes, got {v!r}")
    if len(set(v)) != len(v):
        raise ValueError(f"{name}: replica changes must be distinct, got {list(v)}")
    return tuple(int(x) for x in v)


def _utilisations(name, v):
    if (not isinstance(v, (list, tuple)) or not v
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)):
        raise ValueError(f"{name}: expected a non-empty list of target utilisations in (0, 10], got {v!r}")
    out = tuple(number(0.0, 10.0, lo_open=True)(f"{name}[{i}]", x) for i, x in enumerate(v))
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: target utilisations must be distinct, got {list(v)}")
    return out


def _size(name, v):
    if isinstance(v, (list, tuple)):
        return interval(1e-6, 1e6)(name, v)
    return number(0.0, 1e6, lo_open=True)(name, v)


def _synthetic(name, v):
    if not isinstance(v, dict):
        raise ValueError(f"{name}: expected a dict with optional keys seed, count, days, got {v!r}")
    unknown = sorted(set(v) - {"seed", "count", "days"})
    if unknown:
        raise ValueError(f"{name}: unknown key(s) {unknown}; known: seed, count, days")
    out = {"seed": 0, "count": 16, "days": 14.0, **v}
    number(0, 2**31 - 1, integer=True)(f"{name}.seed", out["seed"])
    number(1, 10000, integer=True)(f"{name}.count", out["count"])
    number(0.0, 3650.0, lo_open=True)(f"{name}.days", out["days"])
    return out


#: Step lengths that divide the traces' 300-s windows (the demand is held within a window).
STEP_CHOICES_S = (15.0, 20.0, 30.0, 60.0, 75.0, 100.0, 150.0, 300.0)


@dataclass(frozen=True)
class AutoscalingConfig:
    """Every knob of the autoscaling env. Defaults give a training env over the bundled training VMs."""

    traces: str = param("train", "demand traces: 'train' (20 Bitbrains VMs), 'test' (10), 'all', 'synthetic' "
                        "(seeded generator, see `synthetic`), or a path to Bitbrains VM CSVs", _traces)
    synthetic: Any = param({}, "traces='synthetic': {seed, count, days} of the generated traces", _synthetic)
    trace_order: str = param("random", "'random': each episode a random trace; 'sequential': traces in order, "
                             "one per episode", one_of("random", "sequential"))
    random_start: bool = param(True, "start each episode at a random step of the trace instead of its first",
                               boolean)
    episode_days: Any = param(2.0, "episode length in days (truncated there), or null for the rest of the trace",
                              number(0.0, 3650.0, lo_open=True, allow_none=True))
    step_s: float = param(60.0, f"control interval, s; one of {list(STEP_CHOICES_S)} (the 300-s demand windows "
                          "are held constant within)", one_of(*STEP_CHOICES_S))
    provisioning_delay_s: float = param(180.0, "time from ordering a replica until it serves (boot + readiness), "
                                        "s; a multiple of step_s", number(0.0, 86400.0))
    p99_demand_replicas: Any = param([3.0, 30.0], "service size: each episode's trace is scaled so that its 99th "
                                     "percentile needs this many fully used replicas; a number, or [low, high] "
                                     "drawn log-uniformly per episode (so the size must be read from the demand, "
                                     "not assumed)", _size)
    size_draw: str = param("random", "with a [low, high] p99_demand_replicas: 'random' draws each episode's size; "
                           "'per_trace' gives trace k the fixed size low*(high/low)^frac((k+1)*0.618...) (golden-"
                           "ratio spread; the test protocol, so every policy and evaluation sees the same services)",
                           one_of("random", "per_trace"))
    obs_scale_replicas: float = param(10.0, "demand and replica counts are divided by this in the observation",
                                      number(0.0, 1e6, lo_open=True))
    min_replicas: int = param(1, "fewest replicas (>= 1: no scale to zero)", number(1, 100000, integer=True))
    max_replicas: int = param(100, "most replicas", number(1, 100000, integer=True))
    initial_replicas: Any = param(None, "replicas ready at the start, or null: the first step's demand / "
                                  "initial_utilisation, rounded up", number(1, 100000, integer=True, allow_none=True))
    initial_utilisation: float = param(0.7, "utilisation the service is sized for at the start when "
                                       "initial_replicas is null", number(0.0, 1.0, lo_open=True))
    action_mode: str = param("replicas", "'replicas': Discrete(max-min+1), action a sets min_replicas + a replicas; "
                             "'delta': Discrete(len(scale_deltas)), action a adds scale_deltas[a]; 'utilisation': "
                             "Discrete(1 + len(target_utilisations)), action 0 keeps the count, action i sizes for "
                             "the last step's demand at target_utilisations[i-1]; results are kept within "
                             "[min_replicas, max_replicas]", one_of("replicas", "delta", "utilisation"))
    scale_deltas: Any = param([-8, -4, -2, -1, 0, 1, 2, 4, 8], "replica changes of action_mode='delta'", _deltas)
    target_utilisations: Any = param([0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
                                     "targets of action_mode='utilisation': ceil(last demand / target) replicas",
                                     _utilisations)
    bill_provisioning: bool = param(True, "replicas that are still provisioning are billed (cloud VMs bill from "
                                    "launch)", boolean)
    violation_minute_cost: float = param(1.0, "price of one SLO-violation minute in replica-hours (the `cost` "
                                         "component, metric and preset)", number(0.0, 1e6))
    reward: Any = param("autoscaling_cost", "autoscaling_cost, autoscaling_slo_first, autoscaling_unserved, a "
                        "weights dict over reward components, 'module:function', or a callable", _reward)

    def __post_init__(self):
        validate(self)
        object.__setattr__(self, "step_s", float(self.step_s))
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"AutoscalingConfig.min_replicas: expected <= max_replicas ({self.max_replicas}), "
                             f"got {self.min_replicas}")
        ratio = self.provisioning_delay_s / self.step_s
        if ratio != int(ratio):
            raise ValueError(f"AutoscalingConfig.provisioning_delay_s: expected a multiple of step_s "
                             f"({self.step_s:g} s), got {self.provisioning_delay_s:g}")
        if self.initial_replicas is not None and not self.min_replicas <= self.initial_replicas <= self.max_replicas:
            raise ValueError(f"AutoscalingConfig.initial_replicas: expected an integer in [{self.min_replicas}, "
                             f"{self.max_replicas}] or null, got {self.initial_replicas}")

    @staticmethod
    def evaluation_overrides() -> dict:
        """The test protocol: every trace of the test split once, whole trace from its first step."""
        return {"traces": "test", "trace_order": "sequential", "random_start": False, "episode_days": None,
                "size_draw": "per_trace"}
