"""The env-family contract: everything generic code may know about an env id.

An env *family* (ABR, cluster, market — or a user's own, in their own package) declares, per env
id, what ``evaluate``, ``compare``, ``train``, training-time evaluation, behaviour cloning,
``bench``, the CLI, TensorBoard logging and the registry-wide tests need: entry points, config
class, description, test protocol and episode plan, metrics with their aggregation, baselines,
reward components and presets, test variants, an optional multi-agent view. Generic modules read
this declaration and nothing else; none of them names a family.

A user's family in ~20 lines::

    from feedbackgym.family import Family, EnvSpec, Metric, Median, RatioOfSums, SeededEpisodes, register_family

    register_family(Family(
        name="toy",
        metrics=[Metric("cost", Median(), "median cost per episode", higher_is_better=False),
                 Metric("misses_per_hour", RatioOfSums("misses", "hours"), "misses per hour, pooled")],
        headline="cost",
        baselines={"zero": ("mypkg.toy:ZeroPolicy", {}, "always act 0")},
        episode_plan=SeededEpisodes(10),
        envs=[EnvSpec("mypkg/Toy-v0", entry_point="mypkg.toy:ToyEnv", config_class="mypkg.toy:ToyConfig",
                      description="a toy")],
    ))

Everything in a family is data or ``"module:attribute"`` import strings, so declaring one costs
nothing at ``import feedbackgym`` time; classes load on first use.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Mapping, Sequence

import numpy as np

# ------------------------------------------------------------------------------- aggregations


class Aggregation:
    """How a metric's per-episode values become one number for a set of episodes."""

    #: per-episode fields this aggregation reads (defaults to the metric's own name)
    def sources(self, metric: str) -> tuple[str, ...]:
        return (metric,)

    def __call__(self, metric: str, episodes: Sequence[Mapping[str, Any]]) -> float:
        raise NotImplementedError

    @staticmethod
    def _values(key: str, episodes: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return np.asarray([float(e[key]) for e in episodes if e.get(key) is not None], dtype=float)


@dataclass(frozen=True)
class Mean(Aggregation):
    """Mean over episodes (the default)."""

    def __call__(self, metric, episodes):
        v = self._values(metric, episodes)
        return float(np.mean(v)) if v.size else math.nan


@dataclass(frozen=True)
class Median(Aggregation):
    """Median over episodes of the metric (or of ``source``, a per-episode field of another name)."""

    source: str | None = None

    def sources(self, metric):
        return (self.source or metric,)

    def __call__(self, metric, episodes):
        v = self._values(self.source or metric, episodes)
        return float(np.median(v)) if v.size else math.nan


@dataclass(frozen=True)
class Percentile(Aggregation):
    """The ``q``-th percentile over episodes (numpy's linear interpolation)."""

    q: float = 99.0
    source: str | None = None   # per-episode field to read (default: the metric's name)

    def sources(self, metric):
        return (self.source or metric,)

    def __call__(self, metric, episodes):
        v = self._values(self.source or metric, episodes)
        return float(np.percentile(v, self.q)) if v.size else math.nan


@dataclass(frozen=True)
class RatioOfSums(Aggregation):
    """``sum(numerator) / sum(denominator)`` over episodes: a pooled rate (e.g. OOMs per task-day),
    not a mean of per-episode ratios, so long episodes weigh what they should."""

    numerator: str
    denominator: str

    def sources(self, metric):
        return (self.numerator, self.denominator)

    def __call__(self, metric, episodes):
        num = self._values(self.numerator, episodes).sum()
        den = self._values(self.denominator, episodes).sum()
        return float(num / den) if den != 0 else math.nan


@dataclass(frozen=True)
class Fraction(Aggregation):
    """Fraction of episodes whose value is true (non-zero)."""

    source: str | None = None

    def sources(self, metric):
        return (self.source or metric,)

    def __call__(self, metric, episodes):
        v = self._values(self.source or metric, episodes)
        return float(np.mean(v != 0)) if v.size else math.nan


@dataclass(frozen=True)
class Sum(Aggregation):
    def __call__(self, metric, episodes):
        return float(self._values(metric, episodes).sum())


@dataclass(frozen=True)
class Metric:
    """A KPI: its name (a key of ``info["episode_metrics"]`` and of the aggregate), how episodes
    aggregate, what it means, and which way is better (for plots and summaries)."""

    name: str
    aggregate: Aggregation = field(default_factory=Mean)
    doc: str = ""
    higher_is_better: bool | None = None


# ------------------------------------------------------------------------------ episode plans


@dataclass(frozen=True)
class PlannedEpisode:
    """One episode of a test protocol: ``env.reset(seed=seed, options=options)``; ``label`` names it
    in tables (the env's ``info[label_key]`` after reset wins when the family declares one)."""

    seed: int | None
    options: dict
    label: str | None = None


class EpisodePlan:
    """Which episodes a test protocol plays: ``plan(env, episodes, seed)`` -> list of episodes."""

    def __call__(self, env, episodes: int | None, seed: int) -> list[PlannedEpisode]:
        raise NotImplementedError


@dataclass(frozen=True)
class EveryItemOnce(EpisodePlan):
    """Every item of the env's data set once, in order (traces, jobs...).

    ``count_attr``: attribute of ``env.unwrapped`` giving the number of items (None when the
    config generates episodes instead, e.g. synthetic traces; then ``fallback`` plans them).
    ``option``: the reset option that selects item ``i``. The first episode gets the seed.
    """

    count_attr: str
    option: str
    fallback: EpisodePlan | None = None
    only_if: tuple | None = None   # (config field, value): plan items only when the config says so

    def __call__(self, env, episodes, seed):
        n_items = getattr(env.unwrapped, self.count_attr, None)
        if self.only_if is not None and getattr(env.unwrapped.config, self.only_if[0]) != self.only_if[1]:
            n_items = None
        if n_items is None:
            return (self.fallback or SeededEpisodes())(env, episodes, seed)
        n = n_items if episodes is None else min(episodes, n_items)
        return [PlannedEpisode(seed if i == 0 else None, {self.option: i}) for i in range(n)]


@dataclass(frozen=True)
class SeededEpisodes(EpisodePlan):
    """``episodes`` episodes (default ``default``) seeded ``seed, seed + 1, ...``."""

    default: int = 10

    def __call__(self, env, episodes, seed):
        n = self.default if episodes is None else episodes
        return [PlannedEpisode(seed + i, {}, f"seed {seed + i}") for i in range(n)]


@dataclass(frozen=True)
class ConfigGrid(EpisodePlan):
    """Every value of one config field (e.g. ``scenario``) × ``seeds`` seeded episodes.

    ``values`` None: only the env's current value of the field (the user's kwargs choose it).
    ``--episodes N`` caps the seeds per value.
    """

    field: str
    values: tuple | None = None
    seeds: int = 5

    def __call__(self, env, episodes, seed):
        values = self.values if self.values is not None else (getattr(env.unwrapped.config, self.field),)
        n = self.seeds if episodes is None else episodes
        out = []
        for v in values:
            for i in range(n):
                out.append(PlannedEpisode(seed + i, {"config": {self.field: v}}, f"{v}/seed {seed + i}"))
        return out


# -------------------------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Baseline:
    target: str                 # "module:Class", imported on first use
    kwargs: dict = field(default_factory=dict)
    doc: str = ""


def _baseline(v) -> Baseline:
    if isinstance(v, Baseline):
        return v
    target, kwargs, doc = v
    return Baseline(target, dict(kwargs), doc)


_UNSET: Any = object()


@dataclass(frozen=True)
class EnvSpec:
    """What generic code needs about one env id. Fields left unset inherit the family's.

    ``test_variants``: env kwargs the registry-wide tests run on top of ``test_kwargs`` when
    checking that the vectorised twin equals single envs. ``test_kwargs``: kwargs that keep the
    registry-wide tests quick (short episodes), never used outside tests.
    """

    id: str
    entry_point: str
    config_class: str
    description: str
    vector_entry_point: str | None = None
    kwargs: dict = field(default_factory=dict)
    protocol: dict = _UNSET            # config overrides of the test protocol
    episode_plan: EpisodePlan = _UNSET
    label_key: str | None = _UNSET     # info key naming the episode after reset (e.g. "trace_name")
    label_field: str = _UNSET          # the per-episode record's key for that name (e.g. "trace")
    id_keys: tuple = _UNSET            # episode_metrics keys that identify, not measure
    data_field: str | None = _UNSET   # config field that --traces sets (None: no data sets)
    data_sets: tuple = _UNSET          # named data sets for --help texts
    metrics: tuple = _UNSET
    headline: str | None = _UNSET
    table_columns: tuple | None = _UNSET
    reference_policy: str | None = _UNSET   # policies are shown as % of this one (e.g. "optimal")
    baselines: Mapping[str, Any] = _UNSET
    reward_components: Mapping[str, str] = _UNSET
    multi_agent: str | None = _UNSET  # "module:factory" of a PettingZoo view
    test_kwargs: dict = _UNSET
    test_variants: tuple = _UNSET
    family: str = ""


@dataclass
class Family:
    """A family's defaults and its env ids (see the module docstring for an example).

    ``reward_presets``: name -> (weights dict, description), registered in
    :mod:`feedbackgym.reward` under the family's name.
    """

    name: str
    envs: list
    protocol: dict = field(default_factory=dict)
    episode_plan: EpisodePlan = field(default_factory=SeededEpisodes)
    label_key: str | None = None
    label_field: str = "label"
    id_keys: tuple = ()
    data_field: str | None = None
    data_sets: tuple = ()
    metrics: Sequence[Metric] = ()
    headline: str | None = None
    table_columns: Sequence[str] | None = None
    reference_policy: str | None = None
    baselines: Mapping[str, Any] = field(default_factory=dict)
    reward_components: Mapping[str, str] = field(default_factory=dict)
    reward_presets: Mapping[str, tuple] = field(default_factory=dict)
    multi_agent: str | None = None
    test_kwargs: dict = field(default_factory=dict)
    test_variants: tuple = ({},)
    description: str = ""

    def specs(self) -> list[EnvSpec]:
        """The family's env specs with every unset field filled from the family."""
        out = []
        for s in self.envs:
            values = {}
            for f in dataclasses.fields(EnvSpec):
                v = getattr(s, f.name)
                if v is _UNSET:
                    v = getattr(self, f.name)
                values[f.name] = v
            values["family"] = self.name
            values["metrics"] = tuple(values["metrics"])
            values["id_keys"] = tuple(values["id_keys"])
            values["data_sets"] = tuple(values["data_sets"])
            values["test_variants"] = tuple(values["test_variants"])
            if values["table_columns"] is not None:
                values["table_columns"] = tuple(values["table_columns"])
            values["baselines"] = {k: _baseline(v) for k, v in dict(values["baselines"]).items()}
            out.append(EnvSpec(**values))
        return out


# ------------------------------------------------------------------------------------ registry

_SPECS: dict[str, EnvSpec] = {}
_FAMILIES: dict[str, Family] = {}


def register_family(family: Family, *, gym_register: bool = True) -> list[str]:
    """Declare ``family``: its ids become known to generic code, its reward presets to the reward
    registry and (``gym_register``) its ids to Gymnasium. Idempotent for the same family name."""
    import gymnasium as gym

    from .reward import registry as rewards

    if not isinstance(family, Family):
        raise ValueError(f"register_family: expected a feedbackgym.family.Family, got {type(family).__name__}")
    if family.name in _FAMILIES:
        return [s.id for s in family.specs()]
    specs = family.specs()
    for s in specs:
        if s.id in _SPECS:
            raise ValueError(f"env id {s.id!r} is already declared by family {_SPECS[s.id].family!r}")
        names = {m.name for m in s.metrics}
        if s.headline is not None and s.headline not in names and s.headline not in _BUILTIN_METRICS:
            raise ValueError(f"{s.id}: headline metric {s.headline!r} is not among its metrics {sorted(names)}")
    for name, (weights, doc) in dict(family.reward_presets).items():
        if name not in rewards.list_rewards():
            rewards.register_reward(name, weights, domain=family.name, description=doc)
    _FAMILIES[family.name] = family
    for s in specs:
        _SPECS[s.id] = s
        if gym_register and s.id not in gym.registry:
            gym.register(id=s.id, entry_point=s.entry_point, vector_entry_point=s.vector_entry_point,
                         kwargs=dict(s.kwargs), disable_env_checker=False)
    return [s.id for s in specs]


def unregister_family(name: str) -> None:
    """Forget a family: its ids leave generic code and Gymnasium's registry (tests, notebooks).
    Its reward presets stay registered (rewards may be in use by envs already made)."""
    import gymnasium as gym

    fam = _FAMILIES.pop(name, None)
    if fam is None:
        raise ValueError(f"unknown family {name!r}; registered: {sorted(_FAMILIES)}")
    for s in fam.specs():
        _SPECS.pop(s.id, None)
        gym.registry.pop(s.id, None)


def env_ids() -> list[str]:
    """Every declared env id, in declaration order."""
    return list(_SPECS)


def families() -> dict[str, Family]:
    return dict(_FAMILIES)


def spec(env_id: str) -> EnvSpec:
    """The declaration of ``env_id``; an undeclared id raises ``ValueError`` listing the known ones."""
    short = env_id.split(":", 1)[-1]
    if short not in _SPECS:
        raise ValueError(f"unknown env id {env_id!r}; declared: {env_ids()}")
    return _SPECS[short]


def load(target: str):
    """Import ``"module:attribute"``."""
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def config_class(env_id: str) -> type:
    """The config dataclass of ``env_id``, without building an env."""
    return load(spec(env_id).config_class)


# -------------------------------------------------------------------------------- aggregation

#: fields every episode record has (evaluation adds them), aggregated by mean
_BUILTIN_METRICS = ("episode_reward", "mean_reward_per_step", "steps")


def aggregate(env_id: str | None, episodes: Sequence[Mapping[str, Any]]) -> dict:
    """Aggregate per-episode records: declared metrics by their aggregation, every other numeric
    field (ids excepted) by its mean; ``episode_reward`` is reported as ``mean_episode_reward``."""
    out: dict[str, Any] = {"episodes": len(episodes)}
    if not episodes:
        return out
    s = spec(env_id) if env_id is not None else None
    declared = {m.name: m for m in s.metrics} if s is not None else {}
    skip = {"episode", *(s.id_keys if s is not None else ())}
    keys: list[str] = []
    for e in episodes:
        for k, v in e.items():
            if k not in keys and k not in skip and isinstance(v, (int, float, np.integer, np.floating)) \
                    and not isinstance(v, (bool, np.bool_)):
                keys.append(k)
    for k in keys:
        if k in declared:
            out[k] = declared[k].aggregate(k, episodes)
        else:
            out["mean_episode_reward" if k == "episode_reward" else k] = Mean()(k, episodes)
    for name, m in declared.items():  # metrics computed from other fields (ratios of sums...)
        if name in out or all(all(e.get(src) is None for e in episodes) for src in m.aggregate.sources(name)):
            continue
        out[name] = m.aggregate(name, episodes)
    return out


def headline(env_id: str, episodes_have: Callable[[str], bool] | None = None) -> str:
    """The metric a comparison is about (``mean_reward_per_step`` if none is declared)."""
    h = spec(env_id).headline
    if h is None or (episodes_have is not None and not episodes_have(h)):
        return "mean_reward_per_step"
    return h
