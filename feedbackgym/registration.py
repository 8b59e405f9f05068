"""Every ``gymnasium.register`` call of the suite, with versioned, namespaced ids.

Importing :mod:`feedbackgym` runs :func:`register_envs`, so ``gym.make("feedbackgym:feedbackgym/<Name>-v0")``
works in any fresh process (Gymnasium imports the module before the ``:``), including
``SubprocVecEnv`` children started with spawn or forkserver and RLlib env runners.
"""

from __future__ import annotations

import gymnasium as gym

NAMESPACE = "feedbackgym"

#: id -> (entry point, vector entry point, domain, one-line description)
ENVS = {
    f"{NAMESPACE}/AbrStreaming-v0": (
        "feedbackgym.envs.abr.env:AbrStreamingEnv",
        "feedbackgym.envs.abr.vector:AbrStreamingVectorEnv",
        "abr",
        "Adaptive bitrate streaming over real network traces (Pensieve simulator; QoE = quality - rebuffering - switches)",
    ),
}


def register_envs() -> None:
    """Register every env id; safe to call any number of times."""
    for env_id, (entry, vector_entry, _, _) in ENVS.items():
        if env_id in gym.registry:
            continue
        gym.register(id=env_id, entry_point=entry, vector_entry_point=vector_entry, disable_env_checker=False)


def env_ids() -> list[str]:
    return list(ENVS)


def _spec(env_id: str):
    if env_id not in ENVS:
        raise ValueError(f"unknown env id {env_id!r}; registered: {env_ids()}")
    return ENVS[env_id]


def describe(env_id: str) -> str:
    """One-line description of an env id."""
    return _spec(env_id)[3]


def config_class(env_id: str) -> type:
    """The config dataclass of an env id (its entry point's ``config_class``), without building an env."""
    import importlib

    module, _, attr = _spec(env_id)[0].partition(":")
    return getattr(importlib.import_module(module), attr).config_class


def domain(env_id: str) -> str:
    """The domain (abr, cluster, market) an env id belongs to: selects baselines and rewards."""
    return _spec(env_id)[2]
