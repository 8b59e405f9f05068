"""Reward registry: rewards by name, weights dict, ``"module:function"`` string or callable.

Envs compute named, physically meaningful components every step (``info["reward_components"]``);
a reward maps those components to the scalar the agent sees. Names, dicts and import strings
are what cross process boundaries (``SubprocVecEnv``, RLlib workers); callables work in-process.

A reward function takes a mapping ``component name -> value`` and returns the reward. Vectorised
envs pass numpy arrays (one value per sub-env) instead of floats, so write custom functions with
numpy operations (``np.maximum``, not ``max``) if they should run on both.

Trust: a ``"module:function"`` string imports a module, i.e. runs its code. Configs are data and
must never run code by themselves (``{"reward": "this:s"}`` would otherwise print the Zen of
Python, and ``"os:system"`` worse), so such a string is only followed into a module the user has
trusted explicitly, in one of two ways:

* ``trust_reward_modules("mypkg.rewards")`` from Python (this process only), or
* the environment variable ``FEEDBACKGYM_TRUSTED_REWARD_MODULES=mypkg.rewards,otherpkg``, which
  ``SubprocVecEnv``/RLlib children inherit.

An entry trusts that module and its submodules; ``*`` trusts every module (the old behaviour).
In-process code can skip import strings altogether: ``register_reward("mine", fn)`` then
``reward="mine"``, or pass the callable itself. The target must be a function defined in the
trusted module (not a name it merely re-exports, such as ``os.system`` imported there) taking one
argument, or a weights dict; anything else is rejected before it is called.
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable, Mapping, Sequence

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


#: environment variable listing trusted reward modules (comma separated; ``*`` trusts all)
TRUST_ENV = "FEEDBACKGYM_TRUSTED_REWARD_MODULES"
_TRUSTED: set[str] = set()


def trust_reward_modules(*modules: str) -> None:
    """Allow ``"module:function"`` reward strings to import ``modules`` (and their submodules).

    Importing a module runs its code, so only name modules you would import yourself. Applies to
    this process; set ``FEEDBACKGYM_TRUSTED_REWARD_MODULES`` for subprocess workers.
    """
    for m in modules:
        if not isinstance(m, str) or (m != "*" and not all(part.isidentifier() for part in m.split("."))):
            raise ValueError(f"trust_reward_modules: expected dotted module names or '*', got {m!r}")
        _TRUSTED.add(m)


def untrust_reward_modules(*modules: str) -> None:
    """Undo :func:`trust_reward_modules` (all of them without arguments)."""
    if not modules:
        _TRUSTED.clear()
    for m in modules:
        _TRUSTED.discard(m)


def trusted_reward_modules() -> list[str]:
    """The modules ``"module:function"`` strings may import: the process list plus the env variable."""
    from_env = [m.strip() for m in os.environ.get(TRUST_ENV, "").split(",") if m.strip()]
    return sorted(_TRUSTED | set(from_env))


def _is_trusted(module: str) -> bool:
    return any(t == "*" or module == t or module.startswith(t + ".") for t in trusted_reward_modules())


def _import(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    if not module or not attr or any(not p.isidentifier() for p in module.split(".") + attr.split(".")):
        raise ValueError(f"reward {spec!r}: expected 'module:function' with dotted Python names")
    if not _is_trusted(module):
        raise ValueError(
            f"reward {spec!r}: importing module {module!r} would run its code, and a config must not run code; "
            f"trust it explicitly with feedbackgym.reward.trust_reward_modules({module!r}) or "
            f"{TRUST_ENV}={module}, or register the function (register_reward) and use its name")
    try:
        obj = importlib.import_module(module)
    except ImportError as e:
        raise ValueError(f"reward {spec!r}: cannot import module {module!r} ({e})") from None
    for part in attr.split("."):
        if part.startswith("_") or not hasattr(obj, part):
            raise ValueError(f"reward {spec!r}: module {module!r} has no public attribute {attr!r}")
        obj = getattr(obj, part)
    return _checked_target(spec, module, obj)


def _checked_target(spec: str, module: str, obj: Any) -> Any:
    """The imported object if it is a reward: a weights dict, or a function of one argument
    defined in ``module`` (a re-exported ``os.system`` or a class is not a reward)."""
    if isinstance(obj, (Mapping, LinearReward)):
        return obj
    if not inspect.isfunction(obj):
        raise ValueError(f"reward {spec!r}: expected a function or a weights dict, got {type(obj).__name__}")
    defined_in = getattr(obj, "__module__", None)
    if defined_in != module:
        raise ValueError(f"reward {spec!r}: {obj.__qualname__} is defined in module {defined_in!r}, not in "
                         f"{module!r}; name the module that defines it")
    try:
        inspect.signature(obj).bind({})
    except TypeError:
        raise ValueError(f"reward {spec!r}: a reward function takes one argument (the components mapping); "
                         f"{obj.__qualname__}{inspect.signature(obj)} does not") from None
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
