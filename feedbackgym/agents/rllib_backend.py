"""Train PPO / DQN on Ray RLlib (``feedbackgym train ENV_ID --backend rllib``; extra ``distributed``).

RLlib's new API stack (RLModule, Learner, EnvRunner), locally or on a Ray cluster
(``--address auto`` after ``ray start --head`` / ``ray start --address HEAD:6379`` on each node).

How the env reaches the env runners (separate processes, possibly on other machines):

- every declared id is registered with RLlib's ``register_env`` (:func:`register_rllib_envs`), and
  Ray starts each worker with ``feedbackgym.registration.register_envs`` as its setup hook, so the
  bare id ``feedbackgym/<Name>-v0`` resolves in env runners too (importing ``feedbackgym`` in the
  driver alone does not reach them);
- env kwargs, the reward included, travel in ``env_config`` and must be JSON-safe (a reward is a
  registered name, a weights dict or a ``"module:function"`` string, never a Python callable);
- env runners use the env's numpy-batched vector twin (``gym_env_vectorize_mode=vector_entry_point``)
  where the env declares one, in Gymnasium's ``NEXT_STEP`` autoreset mode that RLlib expects;
  other envs are vectorised by ``SyncVectorEnv``.

The run folder has the SB3 backend's layout (:mod:`feedbackgym.agents.train`): ``config.json``
(``"backend": "rllib"``), ``command.txt``, ``tb/`` with the same TensorBoard tags
(``rollout/ep_rew_mean``, ``rollout/ep_len_mean``, ``time/fps``, ``train/...``, ``env/<kpi>``,
``env/reward_components/<name>``), ``checkpoints/step_<N>/`` (``rllib/``: RLlib's checkpoint,
``model.zip``, ``state.json``) and ``model.zip``: the trained policy exported as a
stable-baselines3 model with the same network and weights (checked on random observations at
export), so ``feedbackgym evaluate ENV --policy RUN_DIR/model.zip`` scores it like any other
policy. The export covers ``Discrete`` action spaces; other spaces keep RLlib's checkpoint only.

The networks are SB3's defaults, so the export is exact: PPO a separate 64-64 tanh MLP for actor
and critic, DQN a 64-64 ReLU Q-network without dueling heads.
"""

from __future__ import annotations

import functools
import json
import math
import os
import platform
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import feedbackgym

from .. import family
from ..files import atomic_write

ALGOS = ("ppo", "dqn")
#: RLModule model_config per algorithm: SB3's default networks, so the export is exact
MODEL_CONFIG: dict[str, dict[str, Any]] = {
    "ppo": {"fcnet_hiddens": [64, 64], "fcnet_activation": "tanh", "head_fcnet_hiddens": [],
            "vf_share_layers": False},
    "dqn": {"fcnet_hiddens": [64, 64], "fcnet_activation": "relu", "head_fcnet_hiddens": []},
}
#: ``AlgorithmConfig.training()`` defaults per algorithm (``hyperparams`` overrides them)
TRAINING: dict[str, dict[str, Any]] = {
    "ppo": {"lr": 3e-4, "gamma": 0.99, "lambda_": 0.95, "clip_param": 0.2, "entropy_coeff": 0.0,
            "vf_loss_coeff": 0.5, "train_batch_size_per_learner": 2048, "minibatch_size": 64, "num_epochs": 10},
    "dqn": {"lr": 1e-4, "gamma": 0.99, "train_batch_size_per_learner": 32, "target_network_update_freq": 1000,
            "dueling": False, "double_q": True, "num_steps_sampled_before_learning_starts": 1000},
}
#: RLlib learner statistics -> the SB3 backend's TensorBoard tags
LEARNER_TAGS = {
    "policy_loss": "train/policy_gradient_loss", "vf_loss": "train/value_loss", "mean_kl_loss": "train/approx_kl",
    "default_optimizer_learning_rate": "train/learning_rate", "total_loss": "train/loss",
    "qf_loss": "train/loss", "vf_explained_var": "train/explained_variance",
}
CHECKPOINTS = "checkpoints"


# -------------------------------------------------------------------------- env registration


def _create_env(env_id: str, env_config: Mapping | None = None):
    """RLlib env creator: ``env_config`` holds the env kwargs; RLlib adds ``num_envs`` when it asks
    for a vector env (then the env's twin is built, in RLlib's ``NEXT_STEP`` autoreset mode)."""
    import feedbackgym  # noqa: F401  (registers the ids in this worker process)

    kwargs = dict(env_config or {})
    num_envs = kwargs.pop("num_envs", None)
    if num_envs is None:
        return gym.make(env_id, **kwargs)
    mode = "vector_entry_point" if family.spec(env_id).vector_entry_point else "sync"
    return gym.make_vec(env_id, num_envs=int(num_envs), vectorization_mode=mode, **kwargs)


def register_rllib_envs() -> list[str]:
    """``register_env`` every declared id (bare and ``feedbackgym:``-prefixed) with RLlib, so
    ``config.environment("feedbackgym/<Name>-v0")`` works in any env runner."""
    from ray.tune.registry import register_env

    names = []
    for env_id in family.env_ids():
        for name in (env_id, f"feedbackgym:{env_id}"):
            register_env(name, functools.partial(_create_env, env_id))
            names.append(name)
    return names


def env_config_of(env_kwargs: Mapping | None) -> dict:
    """Env kwargs as RLlib's ``env_config``: JSON-safe values only (they cross processes and nodes)."""
    kwargs = dict(env_kwargs or {})
    try:
        text = json.dumps(kwargs, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"env_kwargs: the rllib backend sends env kwargs to its env runners as JSON; {e} "
                         "(give a reward as a registered name, a weights dict or a 'module:function' string)") from None
    return json.loads(text)


def ray_runtime_env() -> dict:
    """Every Ray worker registers the suite's ids at start (the bare id then resolves there too)."""
    return {"worker_process_setup_hook": "feedbackgym.registration.register_envs",
            "env_vars": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}}


# --------------------------------------------------------------------------------- config


def build_config(env_id: str, algo: str, seed: int, env_kwargs: Mapping | None = None, num_env_runners: int = 1,
                 envs_per_runner: int = 1, training: Mapping | None = None, callbacks: type | None = None):
    """The RLlib ``AlgorithmConfig`` of a run (new API stack)."""
    if algo not in ALGOS:
        raise ValueError(f"algo: expected one of {list(ALGOS)}, got {algo!r}")
    if algo == "ppo":
        from ray.rllib.algorithms.ppo import PPOConfig as Config
    else:
        from ray.rllib.algorithms.dqn import DQNConfig as Config
    twin = family.spec(env_id).vector_entry_point is not None
    train_kw = {**TRAINING[algo], **dict(training or {})}
    config = (Config()
              .environment(env_id, env_config=env_config_of(env_kwargs))
              .env_runners(num_env_runners=num_env_runners, num_envs_per_env_runner=envs_per_runner,
                           gym_env_vectorize_mode="vector_entry_point" if twin else "sync",
                           rollout_fragment_length="auto")
              .learners(num_learners=0)
              .rl_module(model_config=dict(MODEL_CONFIG[algo]))
              .training(**train_kw)
              .debugging(seed=seed, log_level="ERROR"))
    if callbacks is not None:
        config = config.callbacks(callbacks)
    return config


def _kpi_callbacks(id_keys: tuple):
    """RLlib callbacks logging each finished episode's KPIs (``env/<kpi>``) and the per-step mean of
    each reward component (``env/reward_components/<name>``), as the SB3 backend does."""
    from ray.rllib.callbacks.callbacks import RLlibCallback

    class EpisodeKpis(RLlibCallback):
        # sums of the reward components live in episode.custom_data, which RLlib carries across
        # the pieces an episode is cut into between sample() calls
        def on_episode_step(self, *, episode, **kwargs):
            info = episode.get_infos(-1)
            comps = info.get("reward_components") if isinstance(info, Mapping) else None
            if not isinstance(comps, Mapping):
                return
            data = episode.custom_data
            sums = data.setdefault("reward_component_sums", {})
            for k, v in comps.items():
                if _finite(v):
                    sums[k] = sums.get(k, 0.0) + float(v)
            data["reward_component_steps"] = data.get("reward_component_steps", 0) + 1

        def on_episode_end(self, *, episode, metrics_logger=None, **kwargs):
            if metrics_logger is None:
                return
            info = episode.get_infos(-1)
            if isinstance(info, Mapping):
                for key, value in (info.get("episode_metrics") or {}).items():
                    if key not in id_keys and _finite(value):
                        metrics_logger.log_value(f"env/{key}", float(value), reduce="mean", window=100)
            data = episode.custom_data
            steps = max(int(data.get("reward_component_steps", 0)), 1)
            for k, total in data.get("reward_component_sums", {}).items():
                metrics_logger.log_value(f"env/reward_components/{k}", total / steps, reduce="mean", window=100)

    return EpisodeKpis


def _finite(v) -> bool:
    return (isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
            and math.isfinite(float(v)))


# ---------------------------------------------------------------------------------- export


def _linear_pairs(state: Mapping[str, Any], prefixes: tuple[str, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(weight, bias) of every linear layer under ``prefixes``, in the order the prefixes and the
    state dict list them."""
    out = []
    for prefix in prefixes:
        keys = [k for k in state if k.startswith(prefix) and k.endswith(".weight")]
        for k in keys:
            w = np.asarray(state[k])
            if w.ndim != 2:
                continue
            out.append((w, np.asarray(state[k[:-len("weight")] + "bias"])))
    return out


def _copy_linears(pairs, modules, what: str) -> None:
    import torch

    if len(pairs) != len(modules):
        raise ValueError(f"export: {what} has {len(pairs)} linear layers in RLlib's module, {len(modules)} in SB3's")
    for (w, b), m in zip(pairs, modules):
        if tuple(m.weight.shape) != w.shape:
            raise ValueError(f"export: {what} layer shapes differ (RLlib {w.shape}, SB3 {tuple(m.weight.shape)})")
        with torch.no_grad():
            m.weight.copy_(torch.as_tensor(w))
            m.bias.copy_(torch.as_tensor(b))


def _linears(module) -> list:
    import torch

    return [m for m in module.modules() if isinstance(m, torch.nn.Linear)]


def _mlp_forward(pairs, x: np.ndarray, activation: Callable) -> np.ndarray:
    for i, (w, b) in enumerate(pairs):
        x = x @ w.T + b
        if i < len(pairs) - 1:
            x = activation(x)
    return x


def export_sb3(algo: str, state: Mapping[str, Any], env_id: str, env_kwargs: Mapping, path: str | os.PathLike,
               seed: int = 0) -> Path:
    """Write RLlib module weights (``state``: the learner's RLModule state dict) as an SB3 model zip.

    Raises ``ValueError`` when the networks do not map one to one, and checks on random
    observations that the SB3 model computes the same logits / Q-values as RLlib's MLP.
    """
    import stable_baselines3 as sb3
    import torch

    env = gym.make(env_id, **dict(env_kwargs))
    model: Any
    act: Callable[[np.ndarray], np.ndarray]
    try:
        if not isinstance(env.action_space, gym.spaces.Discrete):
            raise ValueError(f"export: only Discrete action spaces are exported to SB3, {env_id} acts in "
                             f"{env.action_space}; use the RLlib checkpoint")
        if algo == "ppo":
            model = sb3.PPO("MlpPolicy", env, seed=seed, device="cpu",
                            policy_kwargs={"net_arch": {"pi": [64, 64], "vf": [64, 64]},
                                           "activation_fn": torch.nn.Tanh})
            pol = model.policy
            actor = _linear_pairs(state, ("encoder.actor_encoder.", "pi."))
            critic = _linear_pairs(state, ("encoder.critic_encoder.", "vf."))
            _copy_linears(actor, _linears(pol.mlp_extractor.policy_net) + [pol.action_net], "the actor")
            _copy_linears(critic, _linears(pol.mlp_extractor.value_net) + [pol.value_net], "the critic")
            act, check_pairs = np.tanh, actor

            def sb3_out(obs):
                return pol.get_distribution(obs).distribution.logits
        else:
            model = sb3.DQN("MlpPolicy", env, seed=seed, device="cpu", buffer_size=1, learning_starts=0,
                            policy_kwargs={"net_arch": [64, 64], "activation_fn": torch.nn.ReLU})
            pol = model.policy
            online = _linear_pairs(state, ("encoder.", "af."))
            target = _linear_pairs(state, ("_target_encoder.", "_target_af.")) or online
            _copy_linears(online, _linears(pol.q_net), "the Q-network")
            _copy_linears(target, _linears(pol.q_net_target), "the target Q-network")
            act, check_pairs = (lambda x: np.maximum(x, 0.0)), online

            def sb3_out(obs):
                return pol.q_net(obs)
        rng = np.random.default_rng(seed)
        obs = np.stack([env.observation_space.sample() for _ in range(16)]).astype(np.float32)
        obs = np.where(np.isfinite(obs), obs, rng.normal(size=obs.shape)).astype(np.float32)
        flat = obs.reshape(len(obs), -1)
        expected = _mlp_forward(check_pairs, flat.astype(np.float64), act)
        with torch.no_grad():
            got = sb3_out(torch.as_tensor(obs)).numpy()
        if algo == "ppo":  # Categorical logits are normalised (log-softmax) in torch
            expected = expected - np.log(np.exp(expected - expected.max(1, keepdims=True)).sum(1, keepdims=True)) \
                - expected.max(1, keepdims=True)
        if not np.allclose(got, expected, rtol=1e-4, atol=1e-4):
            raise ValueError(f"export: the SB3 model does not reproduce RLlib's outputs "
                             f"(max difference {np.abs(got - expected).max():.3g})")
        path = Path(path)
        tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.zip")
        model.save(tmp)
        os.replace(tmp, path)
        return path
    finally:
        env.close()


# ------------------------------------------------------------------------------ run folder


def _checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    folder = run_dir / CHECKPOINTS
    if not folder.is_dir():
        return []
    out = []
    for p in folder.iterdir():
        if p.name.startswith("step_") and p.name[5:].isdigit() and (p / "state.json").is_file() \
                and (p / "rllib").is_dir():
            out.append((int(p.name[5:]), p))
    return sorted(out)


def _versions() -> dict:
    import ray
    import torch

    return {"feedbackgym": feedbackgym.__version__, "ray": ray.__version__, "torch": torch.__version__,
            "gymnasium": gym.__version__, "numpy": np.__version__, "python": platform.python_version()}


def _command(call: dict) -> str:
    argv = shlex.join(sys.argv) if sys.argv and sys.argv[0] else "(interactive)"
    args = ", ".join(f"{k}={v!r}" for k, v in call.items())
    return f"{argv}\n# python: feedbackgym.agents.rllib_backend.train({args})\n"


def _scalars(result: Mapping, steps_before: int, seconds: float) -> dict[str, float]:
    """One ``algo.train()`` result as the SB3 backend's TensorBoard tags."""
    out: dict[str, float] = {}
    runners = result.get("env_runners", {}) or {}
    for src, tag in (("episode_return_mean", "rollout/ep_rew_mean"), ("episode_len_mean", "rollout/ep_len_mean")):
        if _finite(runners.get(src)):
            out[tag] = float(runners[src])
    for key, value in runners.items():
        if isinstance(key, str) and key.startswith("env/") and _finite(value):
            out[key] = float(value)
    learner = (result.get("learners", {}) or {}).get("default_policy", {}) or {}
    for src, tag in LEARNER_TAGS.items():
        if _finite(learner.get(src)):
            out[tag] = float(learner[src])
    if _finite(learner.get("entropy")):
        out["train/entropy_loss"] = -float(learner["entropy"])
    steps = int(result.get("num_env_steps_sampled_lifetime", 0))
    if seconds > 0:
        out["time/fps"] = (steps - steps_before) / seconds
    return out


def _check_args(algo: str, env_id: str, timesteps, seed, num_env_runners, envs_per_runner) -> str:
    algo = str(algo).lower()
    if algo not in ALGOS:
        raise ValueError(f"algo: expected one of {list(ALGOS)}, got {algo!r}")
    family.spec(env_id)  # unknown ids fail here, with the declared ones listed
    for name, v, lo in (("timesteps", timesteps, 1), ("num_env_runners", num_env_runners, 0),
                        ("envs_per_runner", envs_per_runner, 1), ("seed", seed, 0)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"{name}: expected an integer >= {lo}, got {v!r}")
    return algo


def _resume_state(run_dir: Path, env_id: str, algo: str, env_config: dict, env_kwargs, training, say):
    """(env_config, seed, training, start_step, checkpoint folder or None) of a run to continue."""
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise ValueError(f"resume: {run_dir} has no config.json (not a feedbackgym run folder)")
    saved = json.loads(config_path.read_text())
    for key, given in (("env_id", env_id), ("algo", algo), ("backend", "rllib")):
        if saved.get(key) != given:
            raise ValueError(f"resume: {run_dir} is a {key} {saved.get(key)!r} run, not {given!r}")
    if env_kwargs and env_config != saved.get("env_kwargs"):
        raise ValueError("resume: env_kwargs differ from the run's config.json; start a new run instead")
    training = {**saved.get("training", {}), **dict(training or {})}
    ckpts = _checkpoints(run_dir)
    if not ckpts:
        say(f"feedbackgym train: {run_dir} has no complete checkpoint; starting it again from step 0")
        return saved.get("env_kwargs", {}), int(saved["seed"]), training, 0, None
    return saved.get("env_kwargs", {}), int(saved["seed"]), training, ckpts[-1][0], ckpts[-1][1]


def _start_ray(address: str | None, num_cpus: int | None) -> bool:
    """Join ``address`` or start a local Ray instance, unless this process already has one."""
    import ray

    if ray.is_initialized():
        return False
    init_kw: dict[str, Any] = {"runtime_env": ray_runtime_env(), "include_dashboard": False,
                               "log_to_driver": False, "logging_level": "ERROR"}
    if address:
        init_kw["address"] = address
    elif num_cpus is not None:
        init_kw["num_cpus"] = num_cpus
    ray.init(**init_kw)
    return True


def train(env_id: str, algo: str, timesteps: int = 20_000, seed: int = 0, env_kwargs: Mapping | None = None,
          run_dir: str | os.PathLike | None = None, resume: bool = False, num_env_runners: int = 1,
          envs_per_runner: int = 1, address: str | None = None, training: Mapping | None = None,
          checkpoint_freq: int | None = None, export: bool = True, progress: Callable[[str], None] | None = None,
          num_cpus: int | None = None) -> Path:
    """Train ``algo`` on ``env_id`` with RLlib; returns the run folder (see the module docstring).

    ``address``: a Ray cluster to join (``"auto"``, ``"ray://host:10001"``...); None starts a local
    Ray instance. ``checkpoint_freq``: env steps between checkpoints (default: a fifth of the run).
    """
    import ray

    algo = _check_args(algo, env_id, timesteps, seed, num_env_runners, envs_per_runner)
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    env_config = env_config_of(env_kwargs)
    if algo == "dqn" and not isinstance(gym.make(env_id, **env_config).action_space, gym.spaces.Discrete):
        raise ValueError(f"dqn needs a Discrete action space; {env_id} has another (use ppo)")
    call = {"env_id": env_id, "algo": algo, "timesteps": timesteps, "seed": seed, "env_kwargs": env_config,
            "num_env_runners": num_env_runners, "envs_per_runner": envs_per_runner, "address": address,
            "resume": resume}
    if run_dir is None:
        if resume:
            raise ValueError("resume: give the run folder to continue (--run-dir)")
        name = env_id.split("/")[-1]
        run_dir = Path("runs") / f"{name}_rllib-{algo}_{seed}_{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    run_dir = Path(run_dir)
    start_step, ckpt = 0, None
    if resume:
        env_config, seed, training, start_step, ckpt = _resume_state(run_dir, env_id, algo, env_config, env_kwargs,
                                                                     training, say)
    elif (run_dir / "config.json").exists():
        raise ValueError(f"run folder {run_dir} already holds a run; use --resume to continue it or choose "
                         "another --run-dir")

    started_ray = _start_ray(address, num_cpus)
    try:
        register_rllib_envs()
        config = build_config(env_id, algo, seed, env_config, num_env_runners, envs_per_runner, training,
                              callbacks=_kpi_callbacks(tuple(family.spec(env_id).id_keys)))
        algorithm = config.build_algo()
        run_dir.mkdir(parents=True, exist_ok=True)
        if ckpt is not None:
            algorithm.restore_from_path(str((ckpt / "rllib").resolve()))
            say(f"feedbackgym train: resumed {run_dir} from step {start_step}")
        if not resume:
            _write_config(run_dir, env_id, algo, seed, env_config, config, num_env_runners, envs_per_runner,
                          address, training)
        log = run_dir / "command.txt"
        old = log.read_text() if log.is_file() else ""
        note = f"# resumed at step {start_step} ({datetime.now().isoformat(timespec='seconds')}):\n" if resume else ""
        atomic_write(log, old + note + _command(call))
        steps = _loop(algorithm, algo, env_id, env_config, seed, run_dir, timesteps, start_step,
                      resume and ckpt is None, checkpoint_freq or max(1, timesteps // 5), export, say)
        if export:
            latest = _checkpoints(run_dir)[-1][1]
            if (latest / "model.zip").is_file():
                shutil.copyfile(latest / "model.zip", run_dir / ".model.zip.tmp")
                os.replace(run_dir / ".model.zip.tmp", run_dir / "model.zip")
        cfg = json.loads((run_dir / "config.json").read_text())
        cfg["num_timesteps"] = steps
        cfg.setdefault("resumes", [])
        if resume:
            cfg["resumes"].append({"from_step": start_step, "n_timesteps": timesteps,
                                   "time": datetime.now().isoformat(timespec="seconds")})
        atomic_write(run_dir / "config.json", json.dumps(cfg, indent=2) + "\n")
        algorithm.stop()
    finally:
        if started_ray:
            ray.shutdown()
    return run_dir


def _loop(algorithm, algo, env_id, env_config, seed, run_dir: Path, timesteps: int, start_step: int,
          restarted: bool, freq: int, export: bool, say) -> int:
    """``algorithm.train()`` until ``timesteps`` env steps, logging to ``tb/`` and checkpointing
    every ``freq`` steps and at the end; returns the env steps reached."""
    from torch.utils.tensorboard import SummaryWriter

    # TensorBoard drops what a killed process logged after the checkpoint it resumes from
    writer = SummaryWriter(str(run_dir / "tb"), purge_step=start_step + 1 if start_step or restarted else None)
    steps, last_ckpt = start_step, start_step
    try:
        while steps < timesteps:
            t0 = time.perf_counter()
            result = algorithm.train()
            seconds = time.perf_counter() - t0
            before = steps
            steps = int(result.get("num_env_steps_sampled_lifetime", steps))
            for tag, value in _scalars(result, before, seconds).items():
                writer.add_scalar(tag, value, steps)
            ret = result.get("env_runners", {}).get("episode_return_mean")
            say(f"rllib {algo} {env_id}: {steps}/{timesteps} env steps"
                + (f", ep_rew_mean {ret:.3f}" if _finite(ret) else ""))
            if steps - last_ckpt >= freq or steps >= timesteps:
                _save_checkpoint(algorithm, algo, run_dir, steps, env_id, env_config, seed, export)
                last_ckpt = steps
    finally:
        writer.close()
    return steps


def _write_config(run_dir: Path, env_id, algo, seed, env_config, config, runners, per_runner, address,
                  training) -> None:
    env_full = None
    try:
        env = gym.make(env_id, **env_config)
        get = getattr(env.unwrapped, "get_config", None)
        env_full = get() if get is not None else None
        env.close()
    except Exception:  # the env runners report a bad config more clearly
        pass
    record = {
        "env_id": env_id, "algo": algo, "seed": seed, "backend": "rllib",
        "hyperparams": {"n_timesteps": None, **TRAINING[algo], **dict(training or {}),
                        "model_config": MODEL_CONFIG[algo], "num_env_runners": runners,
                        "num_envs_per_env_runner": per_runner},
        "training": dict(training or {}),
        "env_kwargs": env_config, "env_config": env_full, "address": address,
        "vectorize_mode": config.gym_env_vectorize_mode if isinstance(config.gym_env_vectorize_mode, str)
        else str(config.gym_env_vectorize_mode),
        "versions": _versions(), "created": datetime.now().isoformat(timespec="seconds"),
    }
    atomic_write(run_dir / "config.json", json.dumps(record, indent=2, default=str) + "\n")


def _save_checkpoint(algorithm, algo: str, run_dir: Path, steps: int, env_id: str, env_config: dict, seed: int,
                     export: bool) -> Path:
    """``checkpoints/step_<N>/`` written under a temporary name and renamed into place (atomic)."""
    final = run_dir / CHECKPOINTS / f"step_{steps}"
    tmp = run_dir / CHECKPOINTS / f".tmp-step_{steps}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    algorithm.save_to_path(str((tmp / "rllib").resolve()))
    if export:
        state = algorithm.learner_group.get_weights()["default_policy"]
        try:
            export_sb3(algo, state, env_id, env_config, tmp / "model.zip", seed)
        except ValueError as e:
            print(f"feedbackgym train: no SB3 export ({e})", file=sys.stderr)
    atomic_write(tmp / "state.json", json.dumps({"num_timesteps": steps, "backend": "rllib"}) + "\n")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final
