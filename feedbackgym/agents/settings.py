"""Hyperparameter files and the validated settings of a training run.

The files are rl-zoo3's (``python -m rl_zoo3.train --conf-file FILE`` reads them unchanged): one
block per env id, ``default`` for ids without one, each holding the algorithm's constructor
arguments plus the keys rl-zoo3 itself consumes (``n_timesteps``, ``policy``, ``n_envs``,
``env_kwargs``, ``normalize``, ``policy_kwargs`` as a ``"dict(...)"`` string, ``callback``
import strings). Settings of ``feedbackgym train`` that rl-zoo3 has no key for live in a
top-level section rl-zoo3 ignores (it reads only the block of the env it trains)::

    mypkg/MyEnv-v0:                        # what rl-zoo3 (and feedbackgym train) use
      n_timesteps: 10000000
      n_envs: 16
      learning_rate: 1.0e-4
      ent_coef: 0.02
      callback:
        - feedbackgym.agents.callbacks.EntropyScheduleCallback: {start: 0.02, end: 0.005}
    feedbackgym_train:                     # what only feedbackgym train uses
      mypkg/MyEnv-v0:
        vec_env: twin
        pretrain: {fn: "feedbackgym.agents.imitation:pretrain", baseline: NAME}
        eval_freq: 500000

For each env, the ``default`` block and then the env's block are merged (shallowly), from the
zoo part and from ``feedbackgym_train``; older files with every key in one block still load.
rl-zoo3 does not merge ``default`` into an env's block, so the packaged env blocks are complete.

Values are data: ``"dict(...)"`` strings go through :mod:`feedbackgym.agents.literal` (no
``eval``), and import strings (``callback``, ``pretrain.fn``) may only name objects in
:data:`TRUSTED_PACKAGES` or in packages listed in the ``FEEDBACKGYM_TRUSTED_IMPORTS`` environment
variable (comma-separated), and must be what they are used as (a callback class, a function).
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..config import describe, param, validate
from . import literal

ALGOS = ("ppo", "dqn")
#: top-level section of a hyperparameter file with the keys only ``feedbackgym train`` reads
SECTION = "feedbackgym_train"
#: packages whose objects import strings in hyperparameter files may name without opting in
TRUSTED_PACKAGES = ("feedbackgym", "stable_baselines3", "sb3_contrib", "rl_zoo3")
TRUSTED_ENV = "FEEDBACKGYM_TRUSTED_IMPORTS"
SCHEDULE_KEYS = ("learning_rate", "clip_range", "clip_range_vf")
#: the default behaviour-cloning function of a ``pretrain`` block
PRETRAIN_FN = "feedbackgym.agents.imitation:pretrain"


def algo_class(algo: str):
    import stable_baselines3 as sb3

    if algo not in ALGOS:
        raise ValueError(f"algo: expected one of {list(ALGOS)}, got {algo!r}")
    return {"ppo": sb3.PPO, "dqn": sb3.DQN}[algo]


# ------------------------------------------------------------------------------ import strings


def load_import(target: str, what: str):
    """The object an import string names (``"pkg.mod:attr"`` or rl-zoo3's ``"pkg.mod.Attr"``).

    Importing runs the module's code, so only :data:`TRUSTED_PACKAGES` and the packages a user
    lists in ``FEEDBACKGYM_TRUSTED_IMPORTS`` may be named from a file."""
    if not isinstance(target, str) or not target.strip():
        raise ValueError(f"{what}: expected an import string 'package.module:name', got {target!r}")
    if ":" in target:
        module, _, attr = target.partition(":")
    else:
        module, _, attr = target.rpartition(".")
    if not module or not attr or not all(p.isidentifier() for p in module.split(".") + attr.split(".")):
        raise ValueError(f"{what}: expected an import string 'package.module:name', got {target!r}")
    trusted = TRUSTED_PACKAGES + tuple(p.strip() for p in os.environ.get(TRUSTED_ENV, "").split(",") if p.strip())
    if module.split(".")[0] not in trusted:
        raise ValueError(f"{what}: {target!r} is outside the trusted packages {list(trusted)}; importing it would "
                         f"run its code. Add its package to {TRUSTED_ENV} (comma-separated) if you trust it")
    try:
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"{what}: cannot import {target!r} ({e})") from None
    return obj


def _callback_entries(v: Any) -> list[tuple[str, dict]]:
    """rl-zoo3's ``callback`` value as ``[(import string, kwargs), ...]``."""
    if v is None:
        return []
    items = v if isinstance(v, list) else [v]
    out: list[tuple[str, dict]] = []
    for item in items:
        if isinstance(item, str):
            out.append((item, {}))
        elif isinstance(item, Mapping) and len(item) == 1:
            (name, kwargs), = item.items()
            if kwargs is not None and not isinstance(kwargs, Mapping):
                raise ValueError(f"callback: the arguments of {name!r} must be a mapping, got {kwargs!r}")
            out.append((str(name), dict(kwargs or {})))
        else:
            raise ValueError(f"callback: expected an import string or {{import string: {{kwargs}}}}, got {item!r}")
    return out


def make_callbacks(entries: list[tuple[str, dict]]) -> list:
    """Instantiate the ``callback`` entries; each must name an SB3 ``BaseCallback`` class."""
    from stable_baselines3.common.callbacks import BaseCallback

    out = []
    for target, kwargs in entries:
        cls = load_import(target, "callback")
        if not (isinstance(cls, type) and issubclass(cls, BaseCallback)):
            raise ValueError(f"callback: {target!r} is not a stable-baselines3 BaseCallback class")
        try:
            out.append(cls(**kwargs))
        except TypeError as e:
            raise ValueError(f"callback: {target}: {e}") from None
    return out


# ------------------------------------------------------------------------------------ checks


def _count(lo: int, allow_none: bool = False, none_hint: str = "") -> Callable[[str, Any], Any]:
    def check(name, v):
        if v is None and allow_none:
            return None
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"{name}: expected an integer >= {lo}{none_hint}, got {v!r}")
        return v
    return check


def _choice(*choices) -> Callable[[str, Any], Any]:
    def check(name, v):
        if v not in choices:
            raise ValueError(f"{name}: expected one of {list(choices)}, got {v!r}")
        return v
    return check


def _mapping(name, v):
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        raise ValueError(f"{name}: expected a mapping, got {v!r}")
    return dict(v)


def _text(name, v):
    if not isinstance(v, str) or not v:
        raise ValueError(f"{name}: expected a non-empty string, got {v!r}")
    return v


def _flag(name, v):
    if not isinstance(v, bool):
        raise ValueError(f"{name}: expected true or false, got {v!r}")
    return v


def _normalize(name, v):
    if isinstance(v, str):
        v = literal.parse(v, name)
    if isinstance(v, bool):
        return v
    if isinstance(v, Mapping):
        return dict(v)
    raise ValueError(f"{name}: expected true/false, a mapping of VecNormalize kwargs or a 'dict(...)' string, "
                     f"got {v!r}")


def _ent_schedule(name, v):
    if v is None:
        return None
    if (not isinstance(v, (list, tuple)) or len(v) not in (2, 3)
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v)):
        raise ValueError(f"{name}: expected [start, end] or [start, end, fraction], got {v!r}")
    return [float(x) for x in v]


def _pretrain(name, v):
    if v is None or v is False:
        return None
    if not isinstance(v, Mapping):
        raise ValueError(f"{name}: expected a mapping such as {{baseline: NAME, episodes: 300, epochs: 10}}, "
                         f"got {v!r}")
    out = dict(v)
    if "fn" in out and not isinstance(out["fn"], str):
        raise ValueError(f"{name}.fn: expected an import string such as {PRETRAIN_FN!r}, got {out['fn']!r}")
    return out


def _callbacks(name, v):
    try:
        return [[t, k] for t, k in _callback_entries(v)]
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None


def _extra_evals(name, v):
    v = _mapping(name, v)
    for key, spec in v.items():
        if not isinstance(key, str) or not key or "/" in key or key == "validation":
            raise ValueError(f"{name}: bad name {key!r} (a word other than 'validation')")
        spec = _mapping(f"{name}.{key}", spec)
        unknown = set(spec) - {"env_kwargs", "episodes"}
        if unknown:
            raise ValueError(f"{name}.{key}: unknown key(s) {sorted(unknown)}; known: env_kwargs, episodes")
        _mapping(f"{name}.{key}.env_kwargs", spec.get("env_kwargs"))
        _count(1, allow_none=True)(f"{name}.{key}.episodes", spec.get("episodes"))
        v[key] = spec
    return v


def _start_method(name, v):
    return _choice(None, "fork", "spawn", "forkserver")(name, v)


# ---------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class TrainSettings:
    """What a hyperparameter block sets besides the algorithm's constructor arguments.

    Built on :func:`feedbackgym.config.param`: every field documents itself and checks its value;
    an unknown key is an error that lists the known ones (:func:`split_hyperparams`).
    """

    n_timesteps: int = param(None, "env steps to train for (--timesteps overrides)",
                             _count(1, none_hint=" (set n_timesteps or pass --timesteps)"))
    policy: str = param("MlpPolicy", "SB3 policy name", _text)
    n_envs: int = param(1, "parallel sub-envs", _count(1))
    vec_env: str = param("twin", "twin (the env's numpy-batched twin), dummy or subproc (SB3's vec envs)",
                         _choice("twin", "dummy", "subproc"))
    env_kwargs: dict = param({}, "env config overrides (--env-kwargs is merged over them)", _mapping)
    normalize: Any = param(False, "true, or VecNormalize kwargs as a mapping or 'dict(...)' string", _normalize)
    callback: list = param([], "rl-zoo3 callbacks: import strings, or {import string: kwargs}", _callbacks)
    ent_coef_schedule: Any = param(None, "[start, end(, fraction)]: linear entropy decay (PPO; older files; "
                                         "new ones use EntropyScheduleCallback)", _ent_schedule)
    checkpoint_freq: int = param(0, "env steps between checkpoints (0: none)", _count(0))
    checkpoint_keep: int = param(3, "newest checkpoints kept", _count(1))
    checkpoint_replay_buffer: bool = param(True, "also checkpoint an off-policy replay buffer", _flag)
    eval_freq: int = param(0, "env steps between evaluations (0: none)", _count(0))
    eval_env_kwargs: dict = param({}, "env kwargs of the evaluation that selects best_model.zip, over the "
                                      "training ones; the family's test protocol applies unless named here",
                                  _mapping)
    eval_episodes: Any = param(None, "episodes per evaluation (null: the family's episode plan)",
                               _count(1, allow_none=True))
    eval_metric: str = param("mean_reward_per_step", "aggregate metric that selects best_model.zip", _text)
    eval_seed: int = param(0, "seed of the evaluation episodes", _count(0))
    extra_evals: dict = param({}, "{name: {env_kwargs, episodes}}: report-only evaluations (eval/<name>/...)",
                              _extra_evals)
    pretrain: Any = param(None, "{fn: import string (default the packaged behaviour cloning), baseline, "
                                "episodes, epochs, ...}: run before RL", _pretrain)
    torch_threads: int = param(1, "torch CPU threads", _count(1))
    device: str = param("cpu", "torch device (these MLPs gain nothing from a GPU)", _text)
    verbose: int = param(0, "SB3 verbosity (0: progress bar only)", _count(0))
    log_interval: Any = param(None, "SB3's learn(log_interval=...)", _count(1, allow_none=True))
    start_method: Any = param(None, "multiprocessing start method of vec_env: subproc", _start_method)

    def __post_init__(self):
        validate(self)

    def as_dict(self) -> dict:
        return {f.name: copy.deepcopy(getattr(self, f.name)) for f in dataclasses.fields(self)}


TRAIN_KEYS = tuple(f.name for f in dataclasses.fields(TrainSettings))


def settings_help() -> str:
    """One line per setting (for docs and ``--help``)."""
    return describe(TrainSettings)


def _schedule(key: str, v):
    from stable_baselines3.common.utils import LinearSchedule

    if isinstance(v, str):
        if v.startswith("lin_"):
            try:
                return LinearSchedule(float(v[4:]), 0.0, 1.0)
            except ValueError:
                pass
        raise ValueError(f"{key}: expected a number or 'lin_<start>' (linear decay to 0), got {v!r}")
    if callable(v):
        return v
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"{key}: expected a number or 'lin_<start>', got {v!r}")
    return float(v)


def split_hyperparams(hp: Mapping, algo: str) -> tuple[TrainSettings, dict]:
    """(validated :class:`TrainSettings`, algorithm constructor kwargs) of a merged block."""
    cls = algo_class(algo)
    settings = TrainSettings(**{k: copy.deepcopy(v) for k, v in hp.items() if k in TRAIN_KEYS})
    algo_kwargs = {k: copy.deepcopy(v) for k, v in hp.items() if k not in TRAIN_KEYS}
    if "seed" in algo_kwargs:
        raise ValueError("seed: not a hyperparameter here; pass --seed (train(seed=...)), which also seeds the envs")
    allowed = set(inspect.signature(cls.__init__).parameters) - {"self", "policy", "env", "seed"}
    unknown = sorted(set(algo_kwargs) - allowed)
    if unknown:
        raise ValueError(f"hyperparameters: unknown key(s) {unknown} for {algo}; {algo} accepts {sorted(allowed)} "
                         f"and feedbackgym train accepts {sorted(TRAIN_KEYS)}")
    for key in SCHEDULE_KEYS:
        if algo_kwargs.get(key) is not None:
            algo_kwargs[key] = _schedule(key, algo_kwargs[key])
    if "policy_kwargs" in algo_kwargs:
        algo_kwargs["policy_kwargs"] = literal.policy_kwargs(algo_kwargs["policy_kwargs"])
    for key in ("replay_buffer_kwargs", "optimize_memory_usage"):
        if isinstance(algo_kwargs.get(key), str):
            algo_kwargs[key] = literal.parse(algo_kwargs[key], key)
    if isinstance(algo_kwargs.get("train_freq"), list):  # YAML has no tuples (rl-zoo3 does the same)
        algo_kwargs["train_freq"] = tuple(algo_kwargs["train_freq"])
    if settings.ent_coef_schedule is not None:
        if algo != "ppo":
            raise ValueError(f"ent_coef_schedule: only PPO has an entropy coefficient, not {algo}")
        algo_kwargs["ent_coef"] = settings.ent_coef_schedule[0]
    return settings, algo_kwargs


# ------------------------------------------------------------------------------------ files


def hyperparams_path(algo: str) -> Path:
    """The packaged hyperparameter file of ``algo``."""
    return Path(str(resources.files("feedbackgym.agents") / "hyperparams" / f"{algo}.yml"))


def _blocks(data: Any, source: str, where: str = "") -> dict[str, dict]:
    if data is None:
        return {}
    if not isinstance(data, Mapping) or not all(isinstance(v, Mapping) or v is None for v in data.values()):
        raise ValueError(f"hyperparameter file {source}{where}: expected a mapping of env ids (and 'default') to "
                         "hyperparameter blocks")
    return {str(k): dict(v or {}) for k, v in data.items()}


def load_file(path: str | os.PathLike) -> dict:
    """A hyperparameter file as ``{block name: block}``, with the ``feedbackgym_train`` section."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text()
        data = yaml.safe_load(text)
    except FileNotFoundError:
        raise ValueError(f"hyperparameter file {path}: no such file") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ValueError(f"hyperparameter file {path}: not valid YAML ({' '.join(str(e).split())})") from None
    out = _parse_data(data, str(path))
    out[_LINES] = _key_lines(yaml.compose(text), str(path))
    return out


_LINES = "\0lines"  # {(section or "", block, key): "file:line"} of a loaded file


def _key_lines(root, source: str) -> dict:
    """Where each block's keys are in the file, for errors that name the line."""
    import yaml

    lines: dict = {}

    def blocks(node, section: str) -> None:
        if not isinstance(node, yaml.MappingNode):
            return
        for k, v in node.value:
            if section == "" and k.value == SECTION:
                blocks(v, SECTION)
            elif isinstance(v, yaml.MappingNode):
                for kk, _ in v.value:
                    lines[(section, str(k.value), str(kk.value))] = f"{source}:{kk.start_mark.line + 1}"
    blocks(root, "")
    return lines


class Hyperparams(dict):
    """The merged hyperparameters of a run; ``where[key]`` is the ``file:line`` that set ``key``."""

    where: dict[str, str]


def _parse_data(data: Any, source: str) -> dict:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ValueError(f"hyperparameter file {source}: expected a mapping of env ids (and 'default') to "
                         "hyperparameter blocks")
    data = dict(data)
    section = _blocks(data.pop(SECTION, None), source, f", section {SECTION}")
    out = _blocks(data, source)
    out[SECTION] = section
    return out


def _env_block(data: Mapping, env_id: str) -> dict | None:
    short = env_id.split(":", 1)[-1]
    for key in (env_id, short, short.split("/", 1)[-1]):
        if key in data:
            return dict(data[key])
    return None


def _is_file_like(m: Mapping, env_id: str) -> bool:
    return "default" in m or SECTION in m or _env_block(m, env_id) is not None


def resolve_hyperparams(env_id: str, algo: str, hyperparams: str | os.PathLike | Mapping | None = None,
                        overrides: Mapping | None = None) -> tuple[dict, str]:
    """The merged hyperparameters of a run and where they came from.

    ``hyperparams``: None (the packaged ``<algo>.yml``), a YAML file, or a mapping — a whole file
    (env-id / ``default`` / ``feedbackgym_train`` keys) if it has such keys, else one block that
    is merged over the packaged file's resolution. Then ``overrides``.
    """
    packaged = hyperparams_path(algo)
    block_over: dict = {}
    if isinstance(hyperparams, Mapping) and _is_file_like(hyperparams, env_id):
        data, source = _parse_data(hyperparams, "<mapping>"), "<mapping>"
    elif hyperparams is None or isinstance(hyperparams, Mapping):
        data, source = load_file(packaged), str(packaged)
        if isinstance(hyperparams, Mapping):
            block_over, source = dict(hyperparams), f"{packaged} + <mapping>"
    else:
        data, source = load_file(hyperparams), str(hyperparams)
    section, lines = data.pop(SECTION), data.pop(_LINES, {})
    env_block, env_extra = _env_block(data, env_id), _env_block(section, env_id)
    if env_block is None and env_extra is None and "default" not in data and "default" not in section:
        raise ValueError(f"hyperparameter file {source}: no block for {env_id} and no 'default' block")
    hp = Hyperparams()
    hp.where = {}
    env_name = next((k for k in (env_id, env_id.split(":", 1)[-1], env_id.split("/", 1)[-1]) if k in data or
                     k in section), None)
    for sec, name, block in (("", "default", data.get("default")), (SECTION, "default", section.get("default")),
                             ("", env_name, env_block), (SECTION, env_name, env_extra)):
        for k, v in (block or {}).items():
            hp[k] = v
            hp.where[k] = lines.get((sec, name, k), source)
    for k, v in {**block_over, **dict(overrides or {})}.items():
        hp[k] = v
        hp.where[k] = "arguments"
    return hp, source


def _error_key(message: str) -> str | None:
    """The hyperparameter an error message is about (``TrainSettings.n_envs: ...`` -> ``n_envs``)."""
    head = message.split(":", 1)[0].strip()
    if head == "hyperparameters" and "[" in message:  # unknown key(s) ['x', ...]
        return message.split("[", 1)[1].split("]", 1)[0].split(",")[0].strip(" '\"")
    head = head.removeprefix("TrainSettings.")
    return head.split(".", 1)[0] if head.replace("_", "").replace(".", "").isalnum() else None


def check_hyperparams(hp: Mapping, algo: str, source: str) -> tuple[TrainSettings, dict]:
    """:func:`split_hyperparams` with errors naming where the hyperparameters came from."""
    try:
        return split_hyperparams(hp, algo)
    except ValueError as e:
        key = _error_key(str(e))
        where = getattr(hp, "where", {}).get(key) if key else None
        raise ValueError(f"{where or source}: {e}" if where else f"{source}: {e}") from None
