"""Env configuration: frozen dataclasses whose fields validate themselves.

Every env has one config dataclass with documented defaults. ``gym.make(id, **kwargs)`` and
``reset(options={"config": {...}})`` override fields through :func:`override`; an unknown field
or a value out of range raises ``ValueError`` naming the field and what is allowed, before any
simulation runs. Fields declare their check with :func:`param`.

An unknown field raises :class:`UnknownFieldError`, which is both a ``ValueError`` (our contract)
and a ``TypeError`` worded like Python's own ("got an unexpected keyword argument 'x'"): other RL
code probes envs with keywords they may not take (TorchRL's ``GymEnv`` tries ``frameskip``) and
recovers only from that ``TypeError``, as it would from a plain ``__init__``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[str, Any], Any]  # (qualified field name, value) -> normalised value, or raise


class UnknownFieldError(TypeError, ValueError):
    """A keyword that is no field of the config (see the module docstring for why both bases)."""


def param(default, doc: str, check: Check | None = None, **kw):
    """A config field with its documentation and validity check."""
    if isinstance(default, (list, dict)):
        kw["default_factory"] = lambda d=default: type(d)(d)
    else:
        kw["default"] = default
    return dataclasses.field(metadata={"doc": doc, "check": check}, **kw)


def validate(cfg) -> None:
    """Run every field's check (from ``__post_init__``); checks may normalise values."""
    for f in dataclasses.fields(cfg):
        check = f.metadata.get("check")
        if check is not None:
            value = check(f"{type(cfg).__name__}.{f.name}", getattr(cfg, f.name))
            object.__setattr__(cfg, f.name, value)


def override(cfg, overrides: Mapping[str, Any] | None):
    """A copy of ``cfg`` with ``overrides`` applied; unknown names raise :class:`UnknownFieldError`
    (a ``ValueError`` and a ``TypeError``)."""
    if not overrides:
        return cfg
    if not isinstance(overrides, Mapping):
        raise ValueError(f"config overrides must be a mapping of field names to values, got {type(overrides).__name__}")
    known = [f.name for f in dataclasses.fields(cfg)]
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        name = type(cfg).__name__
        raise UnknownFieldError(f"{name}: unknown field(s) {unknown}; known fields: {known} "
                                f"({name}.__init__() got an unexpected keyword argument {unknown[0]!r})")
    return dataclasses.replace(cfg, **overrides)


def config_reset_option(cfg, options) -> tuple[Any, dict]:
    """``(config, other options)`` from a ``reset(options=...)`` whose ``"config"`` entry overrides
    fields of ``cfg`` for the episodes from now on. One copy of the check every config-driven env
    runs before it changes anything, so a bad option leaves the env as it was."""
    if options is not None and not isinstance(options, dict):
        raise ValueError(f"reset options: expected a dict such as {{'config': {{...}}}}, "
                         f"got {type(options).__name__} {options!r}")
    rest = dict(options or {})
    return (override(cfg, rest.pop("config")) if "config" in rest else cfg), rest


def to_dict(cfg) -> dict:
    """JSON-safe dict of the config (callables are shown by their qualified name)."""
    out = {}
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if callable(v):
            v = f"{getattr(v, '__module__', '?')}:{getattr(v, '__qualname__', repr(v))}"
        elif isinstance(v, tuple):
            v = list(v)
        out[f.name] = v
    return out


def describe(cls) -> str:
    """One line per field: name, default, doc (for --help texts and docs)."""
    lines = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = "(required)"
        lines.append(f"{f.name} = {default!r}: {f.metadata.get('doc', '')}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- checks


def one_of(*choices) -> Check:
    def check(name, v):
        if v not in choices:
            raise ValueError(f"{name}: expected one of {list(choices)}, got {v!r}")
        return v
    return check


def number(lo: float = -math.inf, hi: float = math.inf, *, lo_open=False, hi_open=False,
           integer=False, allow_none=False) -> Check:
    lb, rb = "(" if lo_open else "[", ")" if hi_open else "]"
    kind = "an integer" if integer else "a number"

    def check(name, v):
        if v is None and allow_none:
            return v
        ok_type = isinstance(v, int) if integer else isinstance(v, (int, float))
        if isinstance(v, bool) or not ok_type:
            raise ValueError(f"{name}: expected {kind} in {lb}{lo}, {hi}{rb}, got {v!r}")
        if not math.isfinite(v) and not (v == hi == math.inf):
            raise ValueError(f"{name}: expected a finite number in {lb}{lo}, {hi}{rb}, got {v!r}")
        if (v < lo or (lo_open and v == lo)) or (v > hi or (hi_open and v == hi)):
            raise ValueError(f"{name}: expected {kind} in {lb}{lo}, {hi}{rb}, got {v!r}")
        return int(v) if integer else float(v)
    return check


def boolean(name, v):
    if not isinstance(v, bool):
        raise ValueError(f"{name}: expected true or false, got {v!r}")
    return v


def interval(lo: float, hi: float, allow_none=False) -> Check:
    """A ``[low, high]`` pair with ``lo <= low <= high <= hi`` (a range to sample from)."""
    def check(name, v):
        if v is None and allow_none:
            return None
        if (not isinstance(v, (list, tuple)) or len(v) != 2
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)):
            raise ValueError(f"{name}: expected [low, high] with {lo} <= low <= high <= {hi}"
                             f"{' or null' if allow_none else ''}, got {v!r}")
        a, b = float(v[0]), float(v[1])
        if not (math.isfinite(a) and math.isfinite(b) and lo <= a <= b <= hi):
            raise ValueError(f"{name}: expected [low, high] with {lo} <= low <= high <= {hi}, got {v!r}")
        return (a, b)
    return check


def autoreset_mode_of(value):
    """A vector twin's ``autoreset_mode`` argument as Gymnasium's ``AutoresetMode``.

    Accepts the enum, its name (``"SAME_STEP"``, any case) or its value (``"SameStep"``), so the
    mode travels through JSON configs (RLlib's ``env_config``, hyperparameter files) as a string.
    """
    from gymnasium.vector import AutoresetMode

    if isinstance(value, AutoresetMode):
        return value
    if isinstance(value, str):
        for mode in AutoresetMode:
            if value.upper() == mode.name or value == mode.value:
                return mode
    names = [m.name for m in AutoresetMode]
    raise ValueError(f"autoreset_mode: expected one of {names} (or gymnasium.vector.AutoresetMode), got {value!r}")
