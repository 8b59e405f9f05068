"""A hindsight-labelled expert for the meta action mode (``action_mode="meta"``) and the
behaviour-cloning function that clones it into an SB3 model (a recipe's ``pretrain: fn:``).

:class:`HindsightArm` labels each window with the arm that would have been cheapest over the
next ``horizon_h`` hours: among the candidate arms, the one with the *smallest* current memory
target that still covers the job's largest window peak over that horizon (x (1 + ``margin``));
when no arm covers it, the arm with the largest target. It reads the future from the job table
(as the ``oracle`` baseline does), so it is a *labeller*, not a deployable policy: the clone
fitted to its labels (:func:`pretrain`) sees only the observation — every arm's target relative
to the current limit and the usage history features — i.e. it learns from train jobs which arm
to pick from what has been observed so far. The labels vary from window to window, so the clone
is stochastic where the past does not determine the future, which is what PPO needs to explore
(a clone of one fixed arm was near-deterministic and PPO never left it).

Opt-in and additive: nothing here changes the env; a recipe names it::

    pretrain:
      fn: "feedbackgym.envs.cluster.hindsight:pretrain"
      horizon_h: 6
      margin: 0.0
      episodes: 200
      epochs: 5
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np

from ...agents.imitation import ExpertData, _accuracy, _fit, _kind, _learner_fn, collect
from .meta import N_ARMS, arm_index

__all__ = ["HindsightArm", "pretrain"]


class HindsightArm:
    """Hindsight labeller of the meta action mode (reads the future; see the module doc).

    Args:
        horizon_h: hours of future window peaks the picked arm's target must cover.
        margin: the target must cover the future peak x (1 + margin).
        arms: candidate arms (indices or names of :data:`~feedbackgym.envs.cluster.meta.ARMS`);
            default every arm but VPA (1..30), whose limits follow its own updater.
    """

    def __init__(self, horizon_h: float = 6.0, margin: float = 0.0, arms=None):
        if not horizon_h > 0:
            raise ValueError(f"horizon_h must be > 0, got {horizon_h!r}")
        if not margin >= 0:
            raise ValueError(f"margin must be >= 0, got {margin!r}")
        self.horizon = max(1, int(round(float(horizon_h) * 12)))
        self.margin = float(margin)
        idx = range(1, N_ARMS) if arms is None else [arm_index(a) if isinstance(a, str) else int(a) for a in arms]
        self.arms = np.asarray(sorted(set(idx)), dtype=np.int64)
        if len(self.arms) == 0 or self.arms.min() < 0 or self.arms.max() >= N_ARMS:
            raise ValueError(f"arms: expected indices in 0..{N_ARMS - 1} or arm names, got {arms!r}")
        self.env: Any = None     # the unwrapped meta-mode env, set by reset

    def reset(self, env, obs, info) -> None:
        u = env.unwrapped
        if not getattr(u, "meta", False):
            raise ValueError("HindsightArm labels the meta action mode; make the env with action_mode='meta'")
        self.env = u

    def future_peak(self) -> float:
        """The largest window peak from the next window over the horizon (within the episode)."""
        u = self.env
        c, tb = u.engine.core, u.table
        pos = int(c.pos[0])
        end = int(tb.offsets[c.job[0]] + c.start_row[0] + c.length[0])
        hi = min(pos + self.horizon, end, len(tb.memory_peak_mib))
        if hi <= pos:
            return float("nan")
        return float(tb.memory_peak_mib[pos:hi].max())

    def act(self, obs, info) -> int:
        u = self.env
        assert u is not None and u.bank is not None
        p = np.maximum(u.bank.proposals()[self.arms], u.config.min_memory_limit_mib)
        peak = self.future_peak()
        if not np.isfinite(peak):          # no future window left: keep the largest target
            return int(self.arms[np.flatnonzero(p == p.max())[-1]])
        need = peak * (1.0 + self.margin)
        cover = p >= need
        if cover.any():
            best = p[cover].min()
            k = np.flatnonzero(cover & (p <= best * (1 + 1e-12)))[-1]
        else:
            k = np.flatnonzero(p == p.max())[-1]
        return int(self.arms[k])

    def end_episode(self, obs, info) -> None:
        pass

    def __repr__(self) -> str:
        return f"HindsightArm(horizon {self.horizon} windows, margin {self.margin})"


def pretrain(model, env_id: str, env_kwargs: dict | None = None, horizon_h: float = 6.0, margin: float = 0.0,
             arms=None, episodes: int = 200, epochs: int = 5, batch_size: int = 256, learning_rate: float = 1e-3,
             seed: int = 0, value_coef: float = 0.5, ent_coef: float = 0.0, holdout_fraction: float = 0.1,
             max_grad_norm: float = 10.0, dqn_loss: str = "margin", dqn_margin: float = 0.8, q_coef: float = 0.0,
             q_calibration: str = "bias", dagger_rounds: int = 0, dagger_episodes: int | None = None,
             dagger_beta: float = 0.0, label_weights: dict | None = None, torch_threads: int | None = 1,
             verbose: int | None = None) -> dict:
    """Clone :class:`HindsightArm` (``horizon_h``, ``margin``, ``arms``) into ``model`` by supervised
    learning on ``episodes`` episodes of the training env (``env_kwargs``, which must set
    ``action_mode: meta``); the fit is :mod:`feedbackgym.agents.imitation`'s (PPO: log-likelihood
    of the label + value regression on returns-to-go; DQN: the large-margin loss). The expert
    acts in the recorded episodes, so the states are the ones its labels lead to; each of
    ``dagger_rounds`` DAgger rounds then plays the clone (greedy; the labeller with probability
    ``dagger_beta`` per step) for ``dagger_episodes`` episodes (default ``episodes // 2``), labels
    every visited state with the labeller's arm and refits on all the data (the labeller reads
    only the job table and the arms' current targets, so it can label states it did not choose).

    ``label_weights`` ({arm name or index: integer k}) repeats every sample labelled with that arm
    k times in the fit (a cost-sensitive clone: the mode of the labels is the cheapest arm most of
    the time, and an OOM costs far more than a window of slack, so the safer labels are weighted
    up)."""
    if torch_threads is not None:
        import torch as th
        th.set_num_threads(int(torch_threads))
    t0 = time.perf_counter()
    kind = _kind(model)
    if not isinstance(model.action_space, gym.spaces.Discrete) or model.action_space.n != N_ARMS:
        raise ValueError(f"hindsight pretrain: expected the meta mode's Discrete({N_ARMS}) actions, got "
                         f"{model.action_space}")
    repeat = np.ones(N_ARMS, dtype=np.int64)
    for a, k in (label_weights or {}).items():
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"label_weights: expected integer repeats >= 1, got {a!r}: {k!r}")
        repeat[arm_index(a) if isinstance(a, str) else int(a)] = k
    env = gym.make(env_id, **(env_kwargs or {}))
    if env.observation_space.shape != model.observation_space.shape:
        env.close()
        raise ValueError(f"hindsight pretrain: the env's observations {env.observation_space.shape} do not match "
                         f"the model's {model.observation_space.shape}")
    expert = HindsightArm(horizon_h, margin, arms)

    def weighted(d: ExpertData):
        o, a, g, u = d.arrays()
        r = repeat[a]
        return np.repeat(o, r, axis=0), np.repeat(a, r), np.repeat(g, r), np.repeat(u, r)

    gamma = float(getattr(model, "gamma", 0.99))
    rng = np.random.default_rng(seed)
    n_holdout = int(round(episodes * holdout_fraction)) if episodes > 1 else 0
    holdout = ExpertData()
    if n_holdout:
        collect(env, expert, n_holdout, seed + 10_000_000, gamma, holdout)
    data = ExpertData()
    expert_stats = collect(env, expert, episodes - n_holdout, seed, gamma, data)
    fit_args: dict = dict(batch_size=batch_size, learning_rate=learning_rate, rng=rng, value_coef=float(value_coef),
                    ent_coef=float(ent_coef), dqn_loss=dqn_loss, margin=float(dqn_margin), q_coef=float(q_coef),
                    q_calibration=q_calibration, max_grad_norm=float(max_grad_norm))
    obs, actions, returns, usable = weighted(data)
    fit = _fit(model, kind, obs, actions, returns, usable, epochs, **fit_args)
    h_obs, h_act = holdout.arrays()[:2] if n_holdout else (obs[:0], actions[:0])
    rounds = [{"round": 0, "samples": int(len(actions)), "train_accuracy": _accuracy(model, kind, obs, actions),
               "holdout_accuracy": _accuracy(model, kind, h_obs, h_act), **fit}]
    for r in range(1, int(dagger_rounds) + 1):
        roll = collect(env, expert, int(dagger_episodes or max(1, episodes // 2)), seed + 1_000_000 * r, gamma, data,
                       learner=_learner_fn(model, None), beta=float(dagger_beta), rng=rng)
        obs, actions, returns, usable = weighted(data)
        fit = _fit(model, kind, obs, actions, returns, usable, epochs, **fit_args)
        rounds.append({"round": r, "samples": int(len(actions)), "learner_agreement": roll["agreement"],
                       "learner_mean_reward_per_step": roll["mean_score"],
                       "train_accuracy": _accuracy(model, kind, obs, actions),
                       "holdout_accuracy": _accuracy(model, kind, h_obs, h_act), **fit})
    env.close()
    counts = np.bincount(data.arrays()[1], minlength=N_ARMS)
    stats = {"expert": repr(expert), "kind": kind, "episodes": episodes, "samples": int(len(actions)),
             "expert_mean_reward_per_step": expert_stats["mean_score"],
             "label_fraction_per_arm": [round(float(x), 4) for x in counts / max(1, counts.sum())],
             "train_accuracy": rounds[-1]["train_accuracy"], "holdout_accuracy": rounds[-1]["holdout_accuracy"],
             "bc_loss": rounds[-1].get("bc_loss"), "value_loss": rounds[-1].get("value_loss"), "rounds": rounds,
             "seconds": time.perf_counter() - t0}
    if verbose if verbose is not None else getattr(model, "verbose", 0):
        print(f"hindsight pretrain: {stats['samples']} samples, acc {stats['train_accuracy']:.3f} "
              f"(holdout {stats['holdout_accuracy']:.3f}), bc_loss {fit.get('bc_loss', float('nan')):.4f}")
    return stats
