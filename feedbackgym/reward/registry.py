"""Reward registry: rewards by name, weights dict, ``"module:function"`` string or callable.

Envs compute named, physically meaningful components every step (``info["reward_components"]``);
a reward maps those components to the scalar the agent sees. Names, dicts and import strings
are what cross process boundaries (``SubprocVecEnv``, RLlib workers); callables work in-process.

A reward function takes a mapping ``component name -> value`` and returns the reward. Vectorised
envs pass numpy arrays (one value per sub-env) instead of floats, so write custom functions with
numpy operations (``np.maximum``, not ``max``) if they should run on both.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

RewardFn = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class LinearReward:
    """Weighted sum of components; the form every preset takes and batched envs fast-path."""

    weights: tuple[tuple[str, float], ...]
    name: str = "weights"

    def __call__(self, components: Mapping[str, Any]):
        total = 0.0
        for key, w in self.weights:
            total = total + w * components[key]
        return total

    def as_dict(self) -> dict[str, float]:
        return dict(self.weights)


@dataclass(frozen=True)
class RegisteredReward:
    name: str
    fn: RewardFn
    domain: str | None
    description: str


_REGISTRY: dict[str, RegisteredReward] = {}


def linear(weights: Mapping[str, float], name: str = "weights") -> LinearReward:
    """Validate a weights dict (finite numbers) and keep only non-zero terms, in given order."""
    if not isinstance(weights, Mapping) or not weights:
        raise ValueError(f"reward weights must be a non-empty dict of component -> number, got {weights!r}")
    items = []
    for key, w in weights.items():
        if not isinstance(key, str):
            raise ValueError(f"reward weights: component names must be strings, got {key!r}")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w):
            raise ValueError(f"reward weights: weight of {key!r} must be a finite number, got {w!r}")
        if w != 0:
            items.append((key, float(w)))
    return LinearReward(tuple(items), name)


def register_reward(name: str, reward: Mapping[str, float] | RewardFn, *, domain: str | None = None,
                    description: str = "", overwrite: bool = False) -> None:
    """Register ``reward`` (weights dict or callable) under ``name``.

    Re-registering the same name raises unless ``overwrite=True``, so two plug-ins cannot
    silently shadow each other.
    """
    if not isinstance(name, str) or not name or ":" in name:
        raise ValueError(f"reward name must be a non-empty string without ':', got {name!r}")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"reward {name!r} is already registered (pass overwrite=True to replace it)")
    fn = linear(reward, name) if isinstance(reward, Mapping) else reward
    if not callable(fn):
        raise ValueError(f"reward {name!r}: expected a weights dict or a callable, got {type(reward).__name__}")
    _REGISTRY[name] = RegisteredReward(name, fn, domain, description)


def list_rewards(domain: str | None = None) -> dict[str, str]:
    """Registered reward names (for ``domain``, plus domain-free ones) with their descriptions."""
    return {r.name: r.description for r in _REGISTRY.values() if domain is None or r.domain in (None, domain)}


def _import(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    try:
        obj = importlib.import_module(module)
    except ImportError as e:
        raise ValueError(f"reward {spec!r}: cannot import module {module!r} ({e})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"reward {spec!r}: module {module!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def resolve(spec, components: Sequence[str] | None = None, domain: str | None = None) -> RewardFn:
    """Turn a reward spec into a function of the components.

    ``components``, when given, are the names the env computes: a weights dict naming any
    other component is rejected here rather than failing with a KeyError mid-episode.
    """
    if isinstance(spec, str):
        if ":" in spec:
            obj = _import(spec)
            fn = linear(obj, spec) if isinstance(obj, Mapping) else obj
            if not callable(fn):
                raise ValueError(f"reward {spec!r}: expected a callable or a weights dict, got {type(obj).__name__}")
        elif spec in _REGISTRY:
            reg = _REGISTRY[spec]
            if domain is not None and reg.domain not in (None, domain):
                raise ValueError(f"reward {spec!r} is for the {reg.domain!r} domain, not {domain!r}; "
                                 f"available: {sorted(list_rewards(domain))}")
            fn = reg.fn
        else:
            raise ValueError(f"unknown reward {spec!r}; registered: {sorted(list_rewards(domain))}, "
                             "or a weights dict, a 'module:function' string, or a callable")
    elif isinstance(spec, Mapping):
        fn = linear(spec)
    elif callable(spec):
        fn = spec
    else:
        raise ValueError(f"reward must be a name, a weights dict, a 'module:function' string or a callable, "
                         f"got {type(spec).__name__}")
    if components is not None and isinstance(fn, LinearReward):
        missing = [k for k, _ in fn.weights if k not in components]
        if missing:
            raise ValueError(f"reward {fn.name!r} uses component(s) {missing} that this env does not compute; "
                             f"components: {list(components)}")
    return fn
