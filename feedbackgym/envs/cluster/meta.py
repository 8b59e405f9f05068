"""The rightsizing env's opt-in meta action mode (``action_mode="meta"``): each action picks a
*recommender arm*, as Autopilot's ML ensemble picks a (decay, margin) model.

Arms (:data:`ARMS`), every one updated every window from what the node agent measures (``info``):

* arm 0, ``vpa``: Kubernetes' VPA recommender and updater with their exact defaults (the
  :class:`~feedbackgym.agents.baselines.cluster.rightsizing.Vpa` baseline itself, both
  resources). Always picking it reproduces the ``vpa`` baseline exactly.
* arms 1..30: memory = max over the last hour of (statistic of a decayed histogram of window
  peaks x margin); statistic p95 / p98 / max, half-life 12 h / 48 h, margin 1.0 / 1.1 / 1.2 /
  1.35 / 1.5. After an OOM the sample is bumped as VPA does (max(used + 100 MiB, 1.2 x used)):
  the measured peak is truncated at the limit. CPU follows VPA's CPU target.

An arm other than VPA is applied through a deadband and hold (the limit changes less often than
the recommendation; Autopilot p99 6-7 changes a day): a rise is applied when the target exceeds
the limit by more than ``META_RAISE_DEADBAND`` and either the last window OOMed or the limit has
held ``meta_raise_hold_h`` hours; a fall when the target is more than ``META_LOWER_DEADBAND``
below the limit and the limit has held ``meta_lower_hold_h`` hours. The CPU limit moves with
the memory limit (to VPA's CPU target), or alone when it leaves VPA's CPU bounds after a hold
of ``meta_lower_hold_h``.

Why on the Python side, not in the numba kernel: the VPA arm is VPA's own recommender (5%
buckets from 10 MB, one peak per 24 h interval replaced as it grows, confidence bounds from the
history length, its updater's pod-age rule), state the kernel does not hold; re-implementing it
in the kernel would duplicate the baseline with a second chance to differ. The meta mode turns
an arm into a *limit action*, which the kernel applies exactly (the path already checked bit for
bit against the numpy reference), so kernel == reference holds in this mode by construction.
The single env and the vector twin run the same :class:`ArmBank` per slot on the same info
values, so the twin stays identical to single envs.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ...agents.baselines.cluster.rightsizing import MEM_STARTS, DecayingHistogram, Vpa

META_STATS = ("p95", "p98", "max")
META_HALF_LIVES_H = (12.0, 48.0)
META_MARGINS = (1.0, 1.1, 1.2, 1.35, 1.5)
#: (name, statistic, half-life h, margin); arm 0 is VPA
ARMS = (("vpa", "", 0.0, 1.15),) + tuple(
    (f"{s}_{int(h)}h_x{m:g}", s, h, m) for s, h, m in itertools.product(META_STATS, META_HALF_LIVES_H, META_MARGINS))
N_ARMS = len(ARMS)
META_RAISE_DEADBAND = 0.05
META_LOWER_DEADBAND = 0.15
META_OBS_CLIP = 6.0
RECENT_WINDOWS = 12


def arm_index(name: str) -> int:
    for k, a in enumerate(ARMS):
        if a[0] == name:
            return k
    raise ValueError(f"unknown meta arm {name!r}; known: {[a[0] for a in ARMS]}")


class ArmBank:
    """Every arm's recommendation for one job slot, fed one window at a time."""

    def __init__(self, raise_hold_windows: int, lower_hold_windows: int, min_memory_mib: float,
                 min_cpu_cores: float):
        self.raise_hold, self.lower_hold = int(raise_hold_windows), int(lower_hold_windows)
        self.min_mem, self.min_cpu = float(min_memory_mib), float(min_cpu_cores)
        self.vpa = Vpa()
        self.hists = [DecayingHistogram(MEM_STARTS, h * 12) for h in META_HALF_LIVES_H]
        self.recs = np.zeros((RECENT_WINDOWS, N_ARMS - 1))
        self.n = 0
        self.targets = np.zeros(N_ARMS - 1)
        self.oom = False
        self.vpa_est: list = []

    def reset(self, info) -> None:
        self.vpa.start(info)
        self.observe(info)

    def _take_window(self, info) -> None:
        """The window that just ended into VPA and the histograms (an OOM-killed window's usage
        bumped as VPA's recommender bumps it)."""
        self.vpa.observe(info)
        for h in self.hists:
            h.tick()
        self.oom = bool(info["oom"])
        if info["running"]:
            used = float(info["memory_usage_mib"])
            if self.oom:
                used = max(used + self.vpa.oom_bump_mib, self.vpa.oom_bump_ratio * used)
            for h in self.hists:
                h.add(used)

    def observe(self, info) -> None:
        """Take in the window that just ended (reset's first window included)."""
        self._take_window(info)
        rec = np.empty(N_ARMS - 1)
        k = 0
        for s in META_STATS:
            for h in self.hists:
                v = h.max() if s == "max" else h.percentile(0.95 if s == "p95" else 0.98)
                for m in META_MARGINS:
                    rec[k] = v * m
                    k += 1
        self.recs[self.n % RECENT_WINDOWS] = rec
        self.n += 1
        self.targets = self.recs[:min(self.n, RECENT_WINDOWS)].max(axis=0)
        self.vpa_est = self.vpa._estimates()

    def proposals(self) -> np.ndarray:
        """(N_ARMS,) each arm's raw memory target (VPA's: its recommender's target), MiB."""
        return np.concatenate([[self.vpa_est[0][0]], self.targets])

    def limits(self, arm: int, info) -> tuple[float, float]:
        """The limits the env applies when ``arm`` is picked (current limits from ``info``)."""
        if arm == 0:
            return self.vpa.limits(info)
        cur_m, cur_c = float(info["memory_limit_mib"]), float(info["cpu_limit_cores"])
        since = self.vpa.since_update
        target = max(float(self.targets[arm - 1]), self.min_mem)
        mem = cur_m
        if target > cur_m * (1.0 + META_RAISE_DEADBAND) and (self.oom or since >= self.raise_hold):
            mem = target
        elif target < cur_m * (1.0 - META_LOWER_DEADBAND) and since >= self.lower_hold:
            mem = target
        c_target, c_lo, c_hi = self.vpa_est[1]
        cpu = cur_c
        if mem != cur_m or (since >= self.lower_hold and not (c_lo <= cur_c <= c_hi)):
            cpu = max(c_target, self.min_cpu)
        if (mem, cpu) != (cur_m, cur_c):
            self.vpa.since_update = 0     # the pod's limits changed: VPA's updater counts from here
        return mem, cpu

    def obs(self, memory_limit_mib: float) -> np.ndarray:
        """log2(arm target / current memory limit) per arm, clipped to +-META_OBS_CLIP."""
        p = self.proposals()
        with np.errstate(divide="ignore"):
            r = np.log2(np.maximum(p, 1e-9) / max(memory_limit_mib, 1e-9))
        return np.clip(r, -META_OBS_CLIP, META_OBS_CLIP)


def make_bank(cfg) -> ArmBank:
    return ArmBank(int(round(cfg.meta_raise_hold_h * 12)), int(round(cfg.meta_lower_hold_h * 12)),
                   cfg.min_memory_limit_mib, cfg.min_cpu_limit_cores)


INFO_KEYS = ("memory_usage_mib", "cpu_usage_cores", "oom", "throttled_fraction", "running", "memory_limit_mib",
             "cpu_limit_cores", "oom_tolerance", "serving", "job_age_windows")


def slot_info(info: dict, i: int) -> dict:
    """One slot's scalars from the twin's per-slot info arrays (what an ArmBank reads)."""
    return {k: info[k][i].item() for k in INFO_KEYS}


def meta_field_names() -> list:
    return [f"meta_{a[0]}_log2_over_limit" for a in ARMS]


assert math.isclose(ARMS[0][3], 1.15)


class ArmRule:
    """Baseline: always pick one arm (``arm``, an index or a name of :data:`ARMS`). In the meta
    action mode it answers the arm's index; in the menu mode it runs its own :class:`ArmBank`
    and answers the limits that arm would apply (a limit action), so ``meta_vpa`` is ``vpa``."""

    def __init__(self, arm=0, raise_hold_h: float | None = None, lower_hold_h: float | None = None):
        self.arm = arm_index(arm) if isinstance(arm, str) else int(arm)
        if not 0 <= self.arm < N_ARMS:
            raise ValueError(f"arm: expected 0..{N_ARMS - 1} or an arm name, got {arm!r}")
        self.raise_hold_h, self.lower_hold_h = raise_hold_h, lower_hold_h
        self.bank: ArmBank | None = None
        self.meta = False

    def reset(self, env, obs, info) -> None:
        u = env.unwrapped
        cfg = u.config
        self.meta = getattr(u, "meta", False)
        if not self.meta:
            rh = cfg.meta_raise_hold_h if self.raise_hold_h is None else self.raise_hold_h
            lh = cfg.meta_lower_hold_h if self.lower_hold_h is None else self.lower_hold_h
            self.bank = ArmBank(int(round(rh * 12)), int(round(lh * 12)), cfg.min_memory_limit_mib,
                                cfg.min_cpu_limit_cores)
            self.bank.reset(info)

    def act(self, obs, info):
        if self.meta:
            return self.arm
        assert self.bank is not None
        if "reward_components" in info:
            self.bank.observe(info)
        mem, cpu = self.bank.limits(self.arm, info)
        return {"memory_limit_mib": mem, "cpu_limit_cores": cpu}

    def end_episode(self, obs, info) -> None:
        pass

    def __repr__(self) -> str:
        return f"ArmRule({ARMS[self.arm][0]!r})"
