"""Behaviour cloning (and optional DAgger) of a classical baseline into an SB3 model.

Starting RL from a clone of the field's best controller can be the biggest lever there is
(the suite's published streaming agent is PPO fine-tuned from a clone of the best classical
controller, which beat PPO from scratch; Hester et al., AAAI 2018, for DQN).
:func:`pretrain` is what the training infrastructure calls when a hyperparameters file has a
``pretrain:`` block::

    pretrain:
      baseline: NAME       # see `feedbackgym baselines ENV_ID`
      episodes: 300
      epochs: 10

It plays the baseline in the *training* env (whatever randomness ``env_kwargs`` configure),
records ``(observation, expert action, return-to-go)`` and fits the model's network by
supervised learning:

* actor-critic policies (PPO, A2C): maximise the log-probability of the expert action through
  ``policy.evaluate_actions``; optionally fit the value head to the expert's discounted
  returns-to-go (``value_coef``), so PPO's first advantages are not noise;
* DQN: DQfD's large-margin loss (Hester et al., AAAI 2018)
  ``max_a [Q(s, a) + margin·(a != a_E)] - Q(s, a_E)`` that puts the expert action on top (or
  plain cross-entropy with the Q-values as logits, ``dqn_loss="ce"``), optionally plus DQfD's
  regression of ``Q(s, a_E)`` on the expert's discounted return-to-go (``q_coef``). By default
  the output biases are then shifted by one common amount so that Q-values start on the scale
  of the returns (the ranking is unchanged), and the target network is synchronised with the
  online one. ``fill_replay_buffer=True`` also stores the expert transitions in the replay
  buffer.

DAgger rounds (Ross, Gordon, Bagnell, AISTATS 2011) then play the *learner* (acting greedily;
with probability ``dagger_beta`` per step the expert acts instead), label every visited state
with the expert's action and refit on the aggregated data. The expert can label states it did
not choose because the baselines read only what the player measures (``info``), never their own
past decisions.

Everything runs on the model's device with the torch thread count left as set by the caller
(``torch_threads=1`` by default sets it to one, as the shared 2-core training machines need).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np

import feedbackgym  # noqa: F401  (registers the ids)

from ..family import PlannedEpisode, headline
from .baselines import make_baseline
from .rollout import run_episode

__all__ = ["pretrain", "collect", "ExpertData"]


class ExpertData:
    """Growing arrays of observations, expert actions and expert returns-to-go (per episode)."""

    def __init__(self):
        self.obs: list[np.ndarray] = []
        self.actions: list[np.ndarray] = []
        self.returns: list[np.ndarray] = []
        self.has_return: list[np.ndarray] = []

    def add_episode(self, obs, actions, returns, has_return: bool) -> None:
        self.obs.append(np.asarray(obs, dtype=np.float32))
        self.actions.append(np.asarray(actions, dtype=np.int64))
        self.returns.append(np.asarray(returns, dtype=np.float32))
        self.has_return.append(np.full(len(actions), has_return, dtype=bool))

    def arrays(self):
        return (np.concatenate(self.obs), np.concatenate(self.actions),
                np.concatenate(self.returns), np.concatenate(self.has_return))

    def __len__(self) -> int:
        return int(sum(len(a) for a in self.actions))


def discounted_returns(rewards, gamma: float) -> np.ndarray:
    """Return-to-go ``G_t = r_t + gamma * G_{t+1}`` of one finished episode."""
    out = np.zeros(len(rewards), dtype=np.float64)
    g = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        g = float(rewards[t]) + gamma * g
        out[t] = g
    return out


class _MixedPolicy:
    """The expert, or (DAgger) the learner except with probability ``beta`` per step; records the
    expert's label for every visited state (the expert reads only ``info``, never its own past
    decisions, so it can label states it did not choose)."""

    def __init__(self, expert, learner, beta: float, rng: np.random.Generator):
        self.expert, self.learner, self.beta, self.rng = expert, learner, beta, rng
        self.expert_actions: list = []
        self.all_expert = True
        self.agree = 0

    def reset(self, env, obs, info) -> None:
        self.expert.reset(env, obs, info)
        self.expert_actions, self.all_expert = [], True

    def act(self, obs, info):
        a_expert = int(self.expert.act(obs, info))
        a = a_expert
        if self.learner is not None and self.rng.random() >= self.beta:
            a = int(self.learner(obs))
            self.all_expert &= a == a_expert
        self.agree += a == a_expert
        self.expert_actions.append(a_expert)
        return a

    def end_episode(self, obs, info) -> None:
        end = getattr(self.expert, "end_episode", None)
        if end is not None:
            end(obs, info)


def collect(env: gym.Env, expert, episodes: int, seed: int, gamma: float, data: ExpertData,
            learner: Callable | None = None, beta: float = 1.0, rng: np.random.Generator | None = None,
            transitions: list | None = None, score_metric: str | None = None) -> dict:
    """Play ``episodes`` episodes through the rollout engine; label every state with ``expert``'s action.

    With ``learner`` (obs -> action) the learner acts, except with probability ``beta`` per step
    the expert does (DAgger); returns-to-go are then not the expert's, so they are marked unusable
    for value/Q regression unless every action was the expert's. ``transitions`` (a list), if
    given, receives ``(obs, next_obs, action, reward, terminated)`` tuples of the actions taken.
    ``score_metric``: the episode metric reported as ``mean_score`` (default: reward per step).
    """
    rng = rng if rng is not None else np.random.default_rng(seed)
    mixed = _MixedPolicy(expert, learner, beta, rng)
    steps, scores = 0, []
    for ep in range(episodes):
        ep_obs: list = []
        ep_rew: list = []

        def on_step(obs, info, action, reward, next_obs, terminated, truncated, next_info, ep_obs=ep_obs,
                    ep_rew=ep_rew):
            ep_obs.append(np.array(obs, dtype=np.float32, copy=True))
            ep_rew.append(float(reward))
            if transitions is not None:
                transitions.append((ep_obs[-1], np.array(next_obs, dtype=np.float32, copy=True), int(action),
                                    float(reward), bool(terminated)))

        record = run_episode(env, mixed, PlannedEpisode(seed + ep, {}), ep, on_step=on_step)
        steps += record["steps"]
        # A truncated episode's return-to-go would need bootstrapping; don't regress on it.
        usable = mixed.all_expert and not record["truncated"]
        data.add_episode(ep_obs, mixed.expert_actions, discounted_returns(ep_rew, gamma), usable)
        score = record.get(score_metric) if score_metric else None
        scores.append(float(score if score is not None else record["mean_reward_per_step"]))
    return {"episodes": episodes, "steps": steps, "agreement": mixed.agree / max(steps, 1),
            "mean_score": float(np.mean(scores)) if scores else float("nan")}


# ------------------------------------------------------------------------------- model glue


def _kind(model) -> str:
    from stable_baselines3.common.policies import ActorCriticPolicy

    if hasattr(model, "q_net") and hasattr(model, "q_net_target"):
        return "dqn"
    if isinstance(getattr(model, "policy", None), ActorCriticPolicy):
        return "actor_critic"
    raise TypeError(f"pretrain: unsupported model {type(model).__name__}; expected an actor-critic model "
                    "(PPO, A2C) or DQN")


def _obs_normalizer(model):
    """The model's VecNormalize observation transform, if training uses one."""
    get = getattr(model, "get_vec_normalize_env", None)
    vn = get() if get is not None else None
    if vn is None or not getattr(vn, "norm_obs", False):
        return None
    return vn.normalize_obs


def _learner_fn(model, normalize):
    def act(obs):
        o = normalize(obs) if normalize is not None else obs
        action, _ = model.predict(o, deterministic=True)
        return int(action)
    return act


def _fit(model, kind: str, obs, actions, returns, has_return, epochs: int, batch_size: int,
         learning_rate: float, rng: np.random.Generator, value_coef: float, ent_coef: float,
         dqn_loss: str, margin: float, q_coef: float, q_calibration: str, max_grad_norm: float) -> dict:
    import torch as th
    import torch.nn.functional as F

    policy = model.policy
    device = policy.device
    params = list(model.q_net.parameters()) if kind == "dqn" else list(policy.parameters())
    optimizer = th.optim.Adam(params, lr=learning_rate)
    n = len(actions)
    obs_t = th.as_tensor(obs, device=device)
    act_t = th.as_tensor(actions, device=device)
    ret_t = th.as_tensor(returns, device=device)
    use_t = th.as_tensor(has_return, device=device)
    policy.set_training_mode(True)
    history = []
    for _ in range(epochs):
        perm = th.as_tensor(rng.permutation(n), device=device)
        totals = {"loss": 0.0, "bc_loss": 0.0, "value_loss": 0.0}
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            o, a, g, u = obs_t[idx], act_t[idx], ret_t[idx], use_t[idx]
            if kind == "actor_critic":
                values, log_prob, entropy = policy.evaluate_actions(o, a)
                bc = -log_prob.mean()
                if ent_coef:
                    bc = bc - ent_coef * (entropy.mean() if entropy is not None else 0.0)
                vl = (F.mse_loss(values.flatten()[u], g[u]) if value_coef and bool(u.any())
                      else th.zeros((), device=device))
                loss = bc + value_coef * vl
            else:
                q = model.q_net(o)
                q_e = q.gather(1, a.view(-1, 1)).squeeze(1)
                if dqn_loss == "ce":
                    bc = F.cross_entropy(q, a)
                else:
                    margins = th.full_like(q, margin)
                    margins.scatter_(1, a.view(-1, 1), 0.0)
                    bc = ((q + margins).max(dim=1).values - q_e).mean()
                vl = F.smooth_l1_loss(q_e[u], g[u]) if q_coef and bool(u.any()) else th.zeros((), device=device)
                loss = bc + q_coef * vl
            optimizer.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(params, max_grad_norm)
            optimizer.step()
            k = len(idx)
            totals["loss"] += float(loss.detach()) * k
            totals["bc_loss"] += float(bc.detach()) * k
            totals["value_loss"] += float(vl.detach()) * k
        history.append({key: v / n for key, v in totals.items()})
    policy.set_training_mode(False)
    out = dict(history[-1]) if history else {}
    if kind == "dqn":
        if q_calibration == "bias" and bool(use_t.any()):
            out["q_bias_shift"] = _calibrate_q_bias(model, obs_t[use_t], act_t[use_t], ret_t[use_t])
        model.q_net_target.load_state_dict(model.q_net.state_dict())
    return out


def _calibrate_q_bias(model, obs, actions, returns, batch: int = 4096) -> float:
    """Shift every action's output bias by the same amount so that the mean ``Q(s, a_E)`` over
    the expert data equals the mean expert return-to-go: the ranking the fit learned is kept,
    and the Q-values start on the scale the TD targets will have (not near 0)."""
    import torch as th

    last = [m for m in model.q_net.modules() if isinstance(m, th.nn.Linear)][-1]
    with th.no_grad():
        q_e = th.cat([model.q_net(obs[i:i + batch]).gather(1, actions[i:i + batch].view(-1, 1)).squeeze(1)
                      for i in range(0, len(actions), batch)])
        shift = float((returns - q_e).mean())
        last.bias.add_(shift)
    return shift


def _accuracy(model, kind: str, obs, actions, batch: int = 4096) -> float:
    import torch as th

    if len(actions) == 0:
        return float("nan")
    policy = model.policy
    hits = 0
    with th.no_grad():
        for start in range(0, len(actions), batch):
            o = th.as_tensor(obs[start:start + batch], device=policy.device)
            if kind == "dqn":
                pred = model.q_net(o).argmax(dim=1)
            else:
                pred = policy.get_distribution(o).mode()
            hits += int((pred.cpu().numpy().reshape(-1) == actions[start:start + batch]).sum())
    return hits / len(actions)


def _fill_replay_buffer(model, transitions: list) -> int:
    """Store expert transitions in an off-policy model's replay buffer (DQfD's demonstrations).

    The buffer holds one column per sub-env, each a time-ordered stream (n-step returns read
    consecutive rows of a column), so whole episodes are dealt round-robin to the columns and
    every column gets the same number of rows (leftover episodes are dropped)."""
    buf = getattr(model, "replay_buffer", None)
    if buf is None or not transitions:
        return 0
    episodes, current = [], []
    for t in transitions:
        current.append(t)
        if t[4]:
            episodes.append(current)
            current = []
    if current:
        episodes.append(current)
    n_envs = buf.n_envs
    streams: list[list] = [[] for _ in range(n_envs)]
    for k in range(len(episodes) // n_envs * n_envs):
        streams[k % n_envs].extend(episodes[k])
    rows = min(len(s) for s in streams)
    for j in range(rows):
        batch = [s[j] for s in streams]
        buf.add(np.stack([t[0] for t in batch]), np.stack([t[1] for t in batch]),
                np.array([[t[2]] for t in batch]), np.array([t[3] for t in batch], dtype=np.float32),
                np.array([t[4] for t in batch], dtype=np.float32), [{} for _ in batch])
    return rows * n_envs


# ---------------------------------------------------------------------------------- pretrain


_KNOWN_OPTIONS = {"dagger_episodes", "dagger_beta", "dagger_epochs", "value_coef", "ent_coef", "dqn_loss", "margin",
                  "q_coef", "q_calibration", "fill_replay_buffer", "gamma", "holdout_fraction", "max_grad_norm",
                  "make_env", "torch_threads", "verbose", "expert", "sample_repeat", "round_stats"}


def _repeat_index(repeats, n: int) -> np.ndarray:
    """Indices of the fit's samples: every state once, then the extra copies ``sample_repeat``
    asks for (state i ``repeats[i] - 1`` more times), checked."""
    r = np.asarray(repeats)
    if r.shape != (n,) or not np.issubdtype(r.dtype, np.integer) or (n and r.min() < 1):
        raise ValueError(f"pretrain: sample_repeat must return one integer >= 1 per state ({n}), got "
                         f"{r.dtype} {r.shape}" + (f" with minimum {r.min()}" if r.size else ""))
    extra = np.flatnonzero(r > 1)
    return np.concatenate([np.arange(n), np.repeat(extra, r[extra] - 1)])


def _check_args(model, env_id, baseline, episodes, epochs, batch_size, learning_rate, dagger_rounds,
                kwargs: dict) -> None:
    """One clear error per bad :func:`pretrain` argument, before any episode is played."""
    unknown = sorted(set(kwargs) - _KNOWN_OPTIONS)
    if unknown:
        raise ValueError(f"pretrain: unknown option(s) {unknown}; known: {sorted(_KNOWN_OPTIONS)}")
    if not isinstance(baseline, str) or not baseline:
        raise ValueError("pretrain: name the baseline to clone (pretrain: {baseline: NAME, ...}; "
                         "see 'feedbackgym baselines ENV_ID')")
    if not isinstance(model.action_space, gym.spaces.Discrete):
        raise ValueError(f"pretrain: behaviour cloning supports Discrete action spaces; {env_id} acts in "
                         f"{model.action_space}")
    for name, v, lo in (("episodes", episodes, 1), ("epochs", epochs, 0), ("batch_size", batch_size, 1),
                        ("dagger_rounds", dagger_rounds, 0)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"pretrain: {name} must be an integer >= {lo}, got {v!r}")
    if not learning_rate > 0:
        raise ValueError(f"pretrain: learning_rate must be > 0, got {learning_rate!r}")
    for name in ("sample_repeat", "round_stats"):
        if kwargs.get(name) is not None and not callable(kwargs[name]):
            raise ValueError(f"pretrain: {name} must be a callable, got {kwargs[name]!r}")
    if kwargs.get("dqn_loss", "margin") not in ("margin", "ce"):
        raise ValueError(f"pretrain: dqn_loss must be 'margin' or 'ce', got {kwargs['dqn_loss']!r}")
    if kwargs.get("q_calibration", "bias") not in ("bias", "none"):
        raise ValueError(f"pretrain: q_calibration must be 'bias' or 'none', got {kwargs['q_calibration']!r}")
    holdout_fraction = float(kwargs.get("holdout_fraction", 0.1))
    if not 0.0 <= holdout_fraction < 1.0:
        raise ValueError(f"pretrain: holdout_fraction must be in [0, 1), got {holdout_fraction!r}")


def pretrain(model, env_id: str, env_kwargs: dict | None = None, baseline: str | None = None,
             episodes: int = 300, epochs: int = 10, batch_size: int = 256, learning_rate: float = 1e-3,
             seed: int = 0, dagger_rounds: int = 0, **kwargs) -> dict:
    """Clone ``baseline`` into ``model`` by supervised learning; returns statistics.

    Args:
        model: an SB3 PPO/A2C (any ``ActorCriticPolicy``) or DQN model, already constructed.
        env_id, env_kwargs: the training env (``gym.make(env_id, **env_kwargs)``); its randomness
            (whatever the training config randomises) is what the clone sees.
        baseline: a baseline name of the env's family (``feedbackgym baselines ENV_ID``); required.
        episodes: expert episodes to record; epochs, batch_size, learning_rate: the fit (Adam).
        seed: seeds the episodes (``seed + i``), the shuffling and the DAgger coin flips.
        dagger_rounds: extra rounds of learner rollouts labelled by the expert.

    Keyword args (all optional):
        dagger_episodes (default ``episodes // 2``), dagger_beta (0.0: probability that the
        expert acts during a DAgger rollout), dagger_epochs (``epochs``);
        value_coef (0.5): weight of the value-head regression on returns-to-go (actor-critic;
        0 disables); ent_coef (0.0): entropy bonus during the fit (keeps the clone stochastic);
        dqn_loss ("margin" or "ce"), margin (0.8), q_coef (0.0: weight of DQfD's regression of
        ``Q(s, a_E)`` on the return-to-go; it can fight the ranking loss in small networks),
        q_calibration ("bias": shift the output biases so the mean ``Q(s, a_E)`` equals the mean
        return-to-go, keeping the ranking; "none"); fill_replay_buffer (False, DQN);
        gamma (the model's); holdout_fraction (0.1 of the episodes, for the held-out accuracy);
        max_grad_norm (10.0); make_env (a callable returning the env, instead of ``gym.make``);
        torch_threads (1; None leaves torch's setting alone); verbose (model's verbosity);
        expert (a policy object to clone instead of the family's baseline ``baseline``, which then
        only names it in the statistics: e.g. a rule that is not a baseline);
        sample_repeat (``actions -> repeats``: an integer >= 1 per recorded state, from the
        expert's actions; a state with k enters every fit k times, the extra copies appended --
        class rebalancing when the expert's informative actions are rare);
        round_stats (``(model, obs, actions) -> dict``: extra statistics of the clone after each
        fit, on the training states and, prefixed ``holdout_``, on the held-out ones; the last
        round's are also top-level keys of the result).

    Returns:
        dict with ``samples``, ``expert_mean_score`` (the baseline's mean headline metric of the
        family on the recorded episodes), ``train_accuracy`` / ``holdout_accuracy`` (greedy action equals the
        expert's), final ``bc_loss`` / ``value_loss``, per-round DAgger stats and ``seconds``.
    """
    _check_args(model, env_id, baseline, episodes, epochs, batch_size, learning_rate, dagger_rounds, kwargs)
    dqn_loss = kwargs.get("dqn_loss", "margin")
    q_calibration = kwargs.get("q_calibration", "bias")
    holdout_fraction = float(kwargs.get("holdout_fraction", 0.1))
    threads = kwargs.get("torch_threads", 1)
    if threads is not None:
        import torch as th
        th.set_num_threads(int(threads))

    t0 = time.perf_counter()
    kind = _kind(model)
    verbose = int(kwargs.get("verbose", getattr(model, "verbose", 0)))
    gamma = float(kwargs.get("gamma", getattr(model, "gamma", 0.99)))
    make_env = kwargs.get("make_env")
    env = make_env() if make_env is not None else gym.make(env_id, **(env_kwargs or {}))
    if env.observation_space.shape != model.observation_space.shape:
        env.close()
        raise ValueError(f"pretrain: the env's observations {env.observation_space.shape} do not match the "
                         f"model's {model.observation_space.shape}; pass make_env= with the training wrappers")
    expert = kwargs["expert"] if kwargs.get("expert") is not None else make_baseline(env_id, str(baseline))
    sample_repeat, round_stats = kwargs.get("sample_repeat"), kwargs.get("round_stats")
    score_metric = headline(env_id)
    normalize = _obs_normalizer(model)
    rng = np.random.default_rng(seed)

    n_holdout = int(round(episodes * holdout_fraction)) if episodes > 1 else 0
    holdout = ExpertData()
    if n_holdout:
        collect(env, expert, n_holdout, seed + 10_000_000, gamma, holdout, score_metric=score_metric)
    data = ExpertData()
    transitions: list | None = [] if (kind == "dqn" and kwargs.get("fill_replay_buffer", False)) else None
    expert_stats = collect(env, expert, episodes - n_holdout, seed, gamma, data, transitions=transitions,
                           score_metric=score_metric)

    fit_args = dict(batch_size=batch_size, learning_rate=learning_rate, rng=rng,
                    value_coef=float(kwargs.get("value_coef", 0.5)), ent_coef=float(kwargs.get("ent_coef", 0.0)),
                    dqn_loss=dqn_loss, margin=float(kwargs.get("margin", 0.8)),
                    q_coef=float(kwargs.get("q_coef", 0.0)), q_calibration=q_calibration,
                    max_grad_norm=float(kwargs.get("max_grad_norm", 10.0)))

    def arrays(d: ExpertData):
        o, a, g, u = d.arrays()
        return (normalize(o) if normalize is not None else o), a, g, u

    def fit_all(obs, actions, returns, usable, n_epochs: int) -> dict:
        if sample_repeat is not None:
            idx = _repeat_index(sample_repeat(actions), len(actions))
            return _fit(model, kind, obs[idx], actions[idx], returns[idx], usable[idx], n_epochs, **fit_args)
        return _fit(model, kind, obs, actions, returns, usable, n_epochs, **fit_args)

    extra: dict = {}   # the last round's round_stats

    def extra_stats(obs, actions) -> dict:
        if round_stats is not None:
            extra.clear()
            extra.update(round_stats(model, obs, actions))
            extra.update({f"holdout_{k}": v for k, v in round_stats(model, h_obs, h_act).items()})
        return dict(extra)

    obs, actions, returns, usable = arrays(data)
    h_obs, h_act = (arrays(holdout)[:2] if n_holdout else (obs[:0], actions[:0]))
    fit = fit_all(obs, actions, returns, usable, epochs)
    rounds = [{"round": 0, "samples": len(actions), **fit,
               "train_accuracy": _accuracy(model, kind, obs, actions),
               "holdout_accuracy": _accuracy(model, kind, h_obs, h_act), **extra_stats(obs, actions)}]
    if verbose:
        print(f"pretrain[{baseline}] round 0: {len(actions)} samples, acc {rounds[-1]['train_accuracy']:.3f} "
              f"(holdout {rounds[-1]['holdout_accuracy']:.3f}), bc_loss {fit.get('bc_loss', float('nan')):.4f}")

    dagger_episodes = int(kwargs.get("dagger_episodes", max(1, episodes // 2)))
    dagger_beta = float(kwargs.get("dagger_beta", 0.0))
    dagger_epochs = int(kwargs.get("dagger_epochs", epochs))
    for r in range(1, dagger_rounds + 1):
        learner = _learner_fn(model, normalize)
        roll = collect(env, expert, dagger_episodes, seed + 1_000_000 * r, gamma, data,
                       learner=learner, beta=dagger_beta, rng=rng, score_metric=score_metric)
        obs, actions, returns, usable = arrays(data)
        fit = fit_all(obs, actions, returns, usable, dagger_epochs)
        rounds.append({"round": r, "samples": len(actions), "learner_agreement": roll["agreement"],
                       "learner_mean_score": roll["mean_score"], **fit,
                       "train_accuracy": _accuracy(model, kind, obs, actions),
                       "holdout_accuracy": _accuracy(model, kind, h_obs, h_act), **extra_stats(obs, actions)})
        if verbose:
            print(f"pretrain[{baseline}] DAgger round {r}: learner agreed {roll['agreement']:.3f}, scored "
                  f"{roll['mean_score']:.4f}; {len(actions)} samples, acc {rounds[-1]['train_accuracy']:.3f}")
    env.close()

    added = _fill_replay_buffer(model, transitions) if transitions is not None else 0
    last = rounds[-1]
    stats = {"baseline": baseline, "kind": kind, "episodes": episodes, "samples": last["samples"],
             "expert_mean_score": expert_stats["mean_score"],
             "train_accuracy": last["train_accuracy"], "holdout_accuracy": last["holdout_accuracy"],
             "bc_loss": last.get("bc_loss"), "value_loss": last.get("value_loss"),
             "replay_buffer_added": added, "rounds": rounds, "seconds": time.perf_counter() - t0,
             **extra}
    logger = getattr(model, "_logger", None)
    if logger is not None:
        for key in ("train_accuracy", "holdout_accuracy", "bc_loss", "value_loss", "expert_mean_score"):
            if stats[key] is not None:
                logger.record(f"pretrain/{key}", stats[key])
    return stats
