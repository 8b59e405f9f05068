"""Training and playing the market's multi-agent view (extra ``multiagent``; RLlib: extra ``distributed``).

Two recipes for :func:`feedbackgym.envs.market.multiagent.parallel_env`:

**Independent learners on stable-baselines3** (:func:`train_independent`). One SB3 model per
*role* (``regulator``, ``maker``, ``executor``); all agents of a role share it (parameter
sharing: SuperSuit's ``pettingzoo_env_to_vec_env_v1`` turns the role's agents into the slots of
one vector env, so the makers' experience trains one policy). Roles learn in turn, round after
round; while one role learns, every other agent plays a fixed policy — the other roles' latest
models, or their rule baselines before they have one (:func:`rule_policies`: Stop Logic for the
regulator, the simulator's stressed-maker rule, a 9 % POV executor). :class:`RoleView` is that
"everyone else fixed" view: a ``ParallelEnv`` whose agents are one role's.

**RLlib** (:func:`rllib_config`, :func:`train_rllib`; runs in ``.venv-ray``). RLlib's
``ParallelPettingZooEnv`` wraps the view; one RLModule per role (``policy_mapping_fn`` maps
``maker_3`` to ``maker``), all trained at once by PPO on RLlib's new API stack. The env travels
to env runners as ``env_config`` (JSON-safe kwargs of ``parallel_env``).

Both give policies with ``act(obs, info) -> int`` (:class:`SB3Policy`, :class:`RLlibPolicy`)
that :func:`play` runs on held-out seeds, returning the episode metrics and per-second paths.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from pettingzoo import ParallelEnv

from ...agents.baselines.market import BreakerPolicy
from .multiagent import FlashCrashMultiAgentEnv, RuleExecutor, RuleMaker, parallel_env

ROLES = ("regulator", "maker", "executor")
#: SB3 PPO settings of the recipe (small networks, short rollouts: episodes are long)
PPO_DEFAULTS: dict[str, Any] = {"n_steps": 512, "batch_size": 128, "n_epochs": 5, "learning_rate": 3e-4,
                                "gamma": 0.99, "gae_lambda": 0.95, "ent_coef": 0.01}


def role_of(agent: str) -> str:
    """``maker_3`` -> ``maker``; ``regulator`` -> ``regulator``."""
    return agent.split("_", 1)[0]


# ------------------------------------------------------------------------------------ policies


class SB3Policy:
    """An SB3 model as a multi-agent policy (``act(obs, info) -> int``)."""

    def __init__(self, model, deterministic: bool = True):
        self.model = model
        self.deterministic = deterministic

    def act(self, obs, info) -> int:
        a, _ = self.model.predict(np.asarray(obs, np.float32), deterministic=self.deterministic)
        return int(np.asarray(a).reshape(-1)[0])


class _Breaker:
    """:class:`~feedbackgym.agents.baselines.market.BreakerPolicy` fed the regulator agent's info."""

    def __init__(self, rule: str, **rule_kwargs):
        self.policy = BreakerPolicy(rule, **rule_kwargs)

    def reset(self, obs, info) -> None:
        self.policy.reset(None, obs, info)

    def act(self, obs, info) -> int:
        return self.policy.act(obs, info)


def rule_policies(regulator_rule: str = "stop_logic", executor_rate: float = 0.09,
                  regulator_rule_kwargs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Rule baselines per role: a circuit-breaker rule (``regulator_rule_kwargs`` go to it), the
    stressed-maker rule, a POV executor. Values are factories (one policy object per agent: rules
    keep state)."""
    kw = dict(regulator_rule_kwargs or {})
    return {"regulator": lambda: _Breaker(regulator_rule, **kw), "maker": RuleMaker,
            "executor": lambda: RuleExecutor(executor_rate)}


def _policy_for(agent: str, policies: Mapping[str, Any]):
    """The policy of ``agent`` from a mapping by agent id or by role (a factory is called)."""
    p = policies.get(agent, policies.get(role_of(agent)))
    if p is None:
        raise ValueError(f"no policy for agent {agent!r} (give one by agent id or by role {role_of(agent)!r})")
    if isinstance(p, type) or (callable(p) and not hasattr(p, "act")):
        p = p()
    return p


# ------------------------------------------------------------------------------- role view


class RoleView(ParallelEnv):
    """The view ``learners`` see while every other agent plays a fixed policy.

    ``env``: a :class:`FlashCrashMultiAgentEnv`; ``fixed``: policies for the other agents, by
    agent id or by role (objects with ``act(obs, info)``, optionally ``reset(obs, info)``, or
    factories of them). Spaces, rewards and infos are the learners' own.
    """

    metadata = {"name": "flash_crash_market_role_view_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self, env: FlashCrashMultiAgentEnv, learners: Sequence[str], fixed: Mapping[str, Any]):
        unknown = sorted(set(learners) - set(env.possible_agents))
        if not learners or unknown:
            raise ValueError(f"learners: expected a non-empty subset of {env.possible_agents}, got {list(learners)}")
        self.env = env
        self.render_mode = None
        self.possible_agents = [a for a in env.possible_agents if a in set(learners)]
        self.agents: list[str] = []
        self.observation_spaces = {a: env.observation_space(a) for a in self.possible_agents}
        self.action_spaces = {a: env.action_space(a) for a in self.possible_agents}
        self._fixed = {a: _policy_for(a, fixed) for a in env.possible_agents if a not in self.possible_agents}

    def observation_space(self, agent):
        return self.observation_spaces[agent]

    def action_space(self, agent):
        return self.action_spaces[agent]

    def reset(self, seed=None, options=None):
        obs, infos = self.env.reset(seed=seed, options=options)
        for a, p in self._fixed.items():
            if hasattr(p, "reset"):
                p.reset(obs[a], infos[a])
        self._obs, self._infos = obs, infos
        self.agents = list(self.possible_agents)
        return {a: obs[a] for a in self.agents}, {a: infos[a] for a in self.agents}

    def step(self, actions):
        full = {a: p.act(self._obs[a], self._infos[a]) for a, p in self._fixed.items()}
        full.update(actions)
        obs, rew, term, trunc, infos = self.env.step(full)
        self._obs, self._infos = obs, infos
        mine = self.possible_agents
        if not self.env.agents:
            self.agents = []
        return ({a: obs[a] for a in mine}, {a: rew[a] for a in mine}, {a: term[a] for a in mine},
                {a: trunc[a] for a in mine}, {a: infos[a] for a in mine})

    def close(self):
        self.env.close()


# --------------------------------------------------------------------------- SB3 recipe


def sb3_vec_env(par_env: ParallelEnv):
    """An SB3 ``VecEnv`` with one slot per agent of ``par_env`` (SuperSuit's
    ``pettingzoo_env_to_vec_env_v1``; agents must share their spaces, as the agents of one role
    do), wrapped in ``VecMonitor``."""
    import supersuit as ss
    from stable_baselines3.common.vec_env import VecMonitor
    from supersuit.vector.sb3_vector_wrapper import SB3VecEnvWrapper

    class _Seedable(SB3VecEnvWrapper):
        # SuperSuit 3.11's concatenated env has no seed(); SB3 >= 2 seeds through it: keep the
        # seed for the next reset instead
        _next_seed: int | None = None

        def seed(self, seed=None):
            self._next_seed = seed
            return [seed]

        def reset(self, seed=None, options=None):
            s = seed if seed is not None else self._next_seed
            self._next_seed = None
            observations, self.reset_infos = self.venv.reset(seed=s, options=options)
            return observations

    # (concat_vec_envs_v1 would deep-copy the env through cloudpickle; one copy needs no concat)
    with warnings.catch_warnings():   # SB3 probes the wrapped env for render_mode, which it need not have
        warnings.filterwarnings("ignore", message="The `render_mode` attribute is not defined")
        return VecMonitor(_Seedable(ss.pettingzoo_env_to_vec_env_v1(par_env)))


def _new_ppo(env_kwargs: Mapping[str, Any], role: str, seed: int, ppo_kwargs: Mapping[str, Any] | None):
    """A fresh PPO for ``role`` on its role view (the other roles on their rules)."""
    from stable_baselines3 import PPO

    env = parallel_env(**dict(env_kwargs))
    learners = [a for a in env.possible_agents if role_of(a) == role]
    others = {k: v for k, v in rule_policies().items() if k != role}
    venv = sb3_vec_env(RoleView(env, learners, others))
    return PPO("MlpPolicy", venv, seed=seed, device="cpu", verbose=0, **{**PPO_DEFAULTS, **dict(ppo_kwargs or {})})


def clone_rules(env_kwargs: Mapping[str, Any], roles: Sequence[str] = ("maker", "regulator"), episodes: int = 10,
                epochs: int = 10, seed: int = 0, ppo_kwargs: Mapping[str, Any] | None = None,
                batch_size: int = 256, learning_rate: float = 1e-3,
                regulator_rule_kwargs: Mapping[str, Any] | None = None) -> dict:
    """Behaviour cloning of the rule baselines (:func:`rule_policies`; ``regulator_rule_kwargs``
    go to the circuit-breaker rule) into one PPO per role: every agent plays its rule for
    ``episodes`` episodes (seeds ``seed + 5000 ..``), each role's PPO policy is fitted to its
    agents' (observation, rule action) pairs by maximum likelihood. A warm start for
    :func:`train_independent` (``models=``), as the published regulator was."""
    import torch

    data: dict[str, tuple[list, list]] = {r: ([], []) for r in roles}
    env = parallel_env(**dict(env_kwargs))
    for e in range(episodes):
        obs, infos = env.reset(seed=seed + 5000 + e)
        pol = {a: _policy_for(a, rule_policies(regulator_rule_kwargs=regulator_rule_kwargs))
               for a in env.possible_agents}
        for a, p in pol.items():
            if hasattr(p, "reset"):
                p.reset(obs[a], infos[a])
        while env.agents:
            actions = {a: pol[a].act(obs[a], infos[a]) for a in env.agents}
            for a, act in actions.items():
                if role_of(a) in data:
                    data[role_of(a)][0].append(obs[a])
                    data[role_of(a)][1].append(act)
            obs, _, _, _, infos = env.step(actions)
    models = {}
    rng = np.random.default_rng(seed)
    for i, role in enumerate(roles):
        if not data[role][0]:
            raise ValueError(f"clone_rules: role {role!r} has no agents in this view")
        model = _new_ppo(env_kwargs, role, seed + 101 * i, ppo_kwargs)
        policy = model.policy
        x = torch.as_tensor(np.asarray(data[role][0], np.float32))
        y = torch.as_tensor(np.asarray(data[role][1], np.int64))
        opt = torch.optim.Adam(policy.parameters(), lr=learning_rate)
        policy.set_training_mode(True)
        for _ in range(epochs):
            order = rng.permutation(len(y))
            for k in range(0, len(y), batch_size):
                idx = torch.as_tensor(order[k:k + batch_size])
                _, log_prob, _ = policy.evaluate_actions(x[idx], y[idx])
                loss = -log_prob.mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
        policy.set_training_mode(False)
        with torch.no_grad():
            dist = policy.get_distribution(x)
            model.clone_accuracy = float((dist.distribution.probs.argmax(1) == y).float().mean())
        models[role] = model
    return models


def train_independent(env_kwargs: Mapping[str, Any], learn: Sequence[str] = ("maker", "regulator"),
                      rounds: int = 2, steps_per_round: int = 20_000, seed: int = 0,
                      ppo_kwargs: Mapping[str, Any] | None = None, fixed: Mapping[str, Any] | None = None,
                      models: dict | None = None, log: Callable[[str], None] | None = None) -> dict:
    """Independent learners with parameter sharing per role (see the module docstring).

    ``learn``: roles that learn, in the order they take turns each round, each for
    ``steps_per_round`` env steps per turn (SB3 counts one step per agent: a role of k agents
    gets k times as many samples); ``fixed``: policies of roles that never learn (default
    :func:`rule_policies`); ``models``: models to continue. Turn ``i`` of round ``r`` plays
    episodes seeded from ``seed + 1000 r + 101 i``. Returns ``{role: SB3 PPO model}``.
    """
    from stable_baselines3 import PPO

    env_kwargs = dict(env_kwargs)
    probe = parallel_env(**env_kwargs)
    present = {role_of(a) for a in probe.possible_agents}
    bad = [r for r in learn if r not in present]
    if bad:
        raise ValueError(f"learn: role(s) {bad} have no agents in this view (agents: {probe.possible_agents})")
    base = {**rule_policies(), **dict(fixed or {})}
    models = dict(models or {})
    kw = {**PPO_DEFAULTS, **dict(ppo_kwargs or {})}
    for r in range(rounds):
        for i, role in enumerate(learn):
            learners = [a for a in probe.possible_agents if role_of(a) == role]
            others = {k: (SB3Policy(models[k]) if k in models else base[k]) for k in present if k != role}
            env = parallel_env(**env_kwargs)
            venv = sb3_vec_env(RoleView(env, learners, others))
            if role not in models:
                models[role] = PPO("MlpPolicy", venv, seed=seed + 101 * i, device="cpu", verbose=0, **kw)
            else:
                models[role].set_env(venv)
            venv.seed(seed + 1000 * r + 101 * i)   # each turn's episodes from a seed of its own
            # SB3 counts agent steps: every agent of the role gets steps_per_round env steps
            models[role].learn(steps_per_round * len(learners), reset_num_timesteps=False)
            if log is not None:
                log(f"round {r + 1}/{rounds}: {role} ({len(learners)} agent(s)) trained "
                    f"{models[role].num_timesteps} steps")
            venv.close()
    return models


# ---------------------------------------------------------------------------------- play


#: per-second paths :func:`play` records (one value per env step)
SERIES = ("time_s", "mid", "fundamental", "spread_ticks", "depth_bid_near", "halted", "maker_net_inventory")


def play(env: FlashCrashMultiAgentEnv, policies: Mapping[str, Any], seed: int) -> tuple[dict, dict]:
    """One episode with every agent on its policy (by agent id or role; factories allowed).

    Returns ``(episode_metrics, series)``: the env's episode metrics, plus ``agent_maker_net_inventory``
    summed over agent makers, and per-step paths (:data:`SERIES` from the regulator-visible state,
    ``agent_inventory`` as a (steps, agent makers) array).
    """
    obs, infos = env.reset(seed=seed)
    pol = {a: _policy_for(a, policies) for a in env.possible_agents}
    for a, p in pol.items():
        if hasattr(p, "reset"):
            p.reset(obs[a], infos[a])
    k = env.config.agent_makers
    series: dict[str, list] = {key: [] for key in SERIES}
    inventories = []
    metrics: dict = {}
    while env.agents:
        actions = {a: pol[a].act(obs[a], infos[a]) for a in env.agents}
        obs, _, _, _, infos = env.step(actions)
        s = env.episode.snapshot
        for key in SERIES:
            v = s.get("t_s") if key == "time_s" else s.get(key)
            series[key].append(float(v) if v is not None and np.isfinite(float(v)) else math.nan)
        inventories.append(env.book.inventory()[:k].astype(float))
        if not env.agents:
            metrics = dict(next(iter(infos.values()))["episode_metrics"])
    out = {key: np.asarray(v) for key, v in series.items()}
    out["agent_inventory"] = np.asarray(inventories).reshape(len(inventories), k)
    inv = out["agent_inventory"]
    metrics["agent_makers_max_abs_net_inventory"] = float(np.abs(inv.sum(1)).max()) if k else 0.0
    metrics["intermediaries_max_abs_net_inventory"] = float(np.abs(inv.sum(1) + out["maker_net_inventory"]).max())
    return metrics, out


# ------------------------------------------------------------------------------------ RLlib

RLLIB_ENV = "feedbackgym/FlashCrashMarketMultiAgent"


def _make_rllib_env(env_config):
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv

    return ParallelPettingZooEnv(parallel_env(**dict(env_config or {})))


def rllib_policy_mapping(agent_id, episode=None, **kwargs) -> str:
    """RLlib ``policy_mapping_fn``: one module per role."""
    return role_of(str(agent_id))


def register_rllib_env() -> str:
    """``register_env`` the view as ``RLLIB_ENV`` (RLlib's ``ParallelPettingZooEnv`` around it)."""
    from ray.tune.registry import register_env

    register_env(RLLIB_ENV, _make_rllib_env)
    return RLLIB_ENV


def rllib_config(env_kwargs: Mapping[str, Any], seed: int = 0, num_env_runners: int = 0,
                 training: Mapping[str, Any] | None = None, learn: Sequence[str] | None = None):
    """PPO on RLlib's new API stack, one RLModule per role of the view (SB3's default 64-64 tanh
    networks); ``learn``: roles trained (default all)."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    from ...agents.rllib_backend import MODEL_CONFIG, TRAINING, env_config_of, ray_runtime_env  # noqa: F401

    env_config = env_config_of(env_kwargs)
    json.dumps(env_config)
    probe = parallel_env(**env_config)
    roles = sorted({role_of(a) for a in probe.possible_agents})
    train_kw = {**TRAINING["ppo"], **dict(training or {})}
    register_rllib_env()
    return (PPOConfig()
            .environment(RLLIB_ENV, env_config=env_config)
            .multi_agent(policies=set(roles), policy_mapping_fn=rllib_policy_mapping,
                         policies_to_train=list(learn) if learn is not None else roles)
            .rl_module(rl_module_spec=MultiRLModuleSpec(rl_module_specs={
                r: RLModuleSpec(model_config=dict(MODEL_CONFIG["ppo"])) for r in roles}))
            .env_runners(num_env_runners=num_env_runners, rollout_fragment_length="auto")
            .learners(num_learners=0)
            .training(**train_kw)
            .debugging(seed=seed, log_level="ERROR"))


def train_rllib(env_kwargs: Mapping[str, Any], timesteps: int, seed: int = 0, num_env_runners: int = 0,
                training: Mapping[str, Any] | None = None, log: Callable[[str], None] | None = None):
    """Build and train the RLlib PPO of :func:`rllib_config` for at least ``timesteps`` env
    steps (all agents' steps of one env step count once); returns ``(algo, results)``."""
    import ray

    from ...agents.rllib_backend import ray_runtime_env

    if not ray.is_initialized():
        ray.init(num_cpus=max(1, num_env_runners + 1), include_dashboard=False, log_to_driver=False,
                 runtime_env=ray_runtime_env())
    algo = rllib_config(env_kwargs, seed=seed, num_env_runners=num_env_runners, training=training).build_algo()
    results = []
    steps = 0
    while steps < timesteps:
        result = algo.train()
        steps = int(result.get("env_runners", {}).get("num_env_steps_sampled_lifetime", 0)
                    or result.get("num_env_steps_sampled_lifetime", 0))
        results.append(result)
        if log is not None:
            ret = result.get("env_runners", {}).get("agent_episode_returns_mean", {})
            log(f"rllib: {steps} env steps; mean episode return per agent {ret}")
    return algo, results


class RLlibPolicy:
    """A trained RLlib module as a multi-agent policy (greedy: the most likely action)."""

    def __init__(self, algo, module_id: str):
        self.module = algo.get_module(module_id)
        self.module_id = module_id

    def act(self, obs, info) -> int:
        import torch

        with torch.no_grad():
            out = self.module.forward_inference({"obs": torch.as_tensor(np.asarray(obs, np.float32)[None])})
        return int(torch.argmax(out["action_dist_inputs"][0]).item())
