"""Env steps per second, single and vectorised (``feedbackgym bench ENV_ID``).

Four ways of stepping the same env, measured in one run on the same machine:

* ``single (raw)`` — ``env.unwrapped.step`` in a Python loop: the simulator and the env class;
* ``single (gym.make)`` — through the wrappers ``gym.make`` adds by default (order enforcing,
  passive env checker): what most RL code sees;
* ``SyncVectorEnv`` — Gymnasium's ``SyncVectorEnv`` of ``sync_envs`` single envs, the reference
  every vectorised env is compared with;
* ``vector twin`` — ``gym.make_vec(id, num_envs=N)``, which builds the env's own numpy-batched
  ``vector_entry_point``.

Actions are uniform random from ``numpy.random.default_rng(seed)``; single envs reset when an
episode ends, vector envs autoreset (Gymnasium's default ``NEXT_STEP`` mode, so a batched step
counts ``num_envs`` env steps even where a sub-env is resetting). Each measurement is repeated
``repeats`` times after a short untimed warm-up, each repeat stepping for at least
``min_seconds``, and the best repeat is reported (as ``timeit`` does: the others measure the
machine's other work). Numbers are measurements, never asserted.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass, field

import gymnasium as gym
import numpy as np

import feedbackgym

from .files import atomic_write

#: single-env steps before timing starts (imports, caches, first-step checks)
_WARMUP_STEPS = 200
#: batched steps before timing starts
_WARMUP_BATCHES = 2


@dataclass
class BenchRow:
    name: str
    num_envs: int
    steps: int
    seconds: float
    steps_per_s: float
    env_class: str
    repeats_steps_per_s: list[float] = field(default_factory=list)


@dataclass
class BenchResult:
    env_id: str
    env_kwargs: dict
    seed: int
    repeats: int
    min_seconds: float
    rows: list[BenchRow]
    machine: dict
    command: str | None = None
    twin_kwargs: dict = field(default_factory=dict)

    def row(self, name: str) -> BenchRow | None:
        return next((r for r in self.rows if r.name == name), None)

    @property
    def twin_vs_sync(self) -> float | None:
        """Steps/s of the vectorised twin over Gymnasium's SyncVectorEnv, same run."""
        twin, sync = self.row(TWIN), self.row(SYNC)
        if twin is None or sync is None or sync.steps_per_s <= 0:
            return None
        return twin.steps_per_s / sync.steps_per_s

    def to_json(self) -> dict:
        return {"env_id": self.env_id, "env_kwargs": self.env_kwargs, "twin_kwargs": self.twin_kwargs,
                "seed": self.seed,
                "repeats": self.repeats, "min_seconds": self.min_seconds, "command": self.command,
                "machine": self.machine,
                "twin_vs_sync_ratio": self.twin_vs_sync, "rows": [asdict(r) for r in self.rows]}

    def table_rows(self) -> list[list[str]]:
        base = self.row(RAW)
        out = []
        for r in self.rows:
            rel = f"{r.steps_per_s / base.steps_per_s:.2f}x" if base and base.steps_per_s > 0 else "-"
            out.append([r.name, str(r.num_envs), f"{r.steps:,}", f"{r.seconds:.2f}",
                        f"{r.steps_per_s:,.0f}", rel])
        return out

    HEADER = ["measurement", "num_envs", "env steps", "seconds", "steps/s", "vs single raw"]

    def to_markdown(self) -> str:
        lines = [f"# `feedbackgym bench` — {self.env_id}", ""]
        if self.command:
            lines += ["Produced by:", "", "```", self.command, "```", ""]
        lines += ["| " + " | ".join(self.HEADER) + " |", "|---|" + "---:|" * (len(self.HEADER) - 1)]
        lines += ["| " + " | ".join(r) + " |" for r in self.table_rows()]
        ratio = self.twin_vs_sync
        twin, sync = self.row(TWIN), self.row(SYNC)
        if ratio is not None and twin is not None and sync is not None:
            lines += ["", f"Vectorised twin (N={twin.num_envs}) / Gymnasium SyncVectorEnv (N={sync.num_envs}): "
                          f"**{ratio:.1f}x** steps/s, measured in the same run."]
        m = self.machine
        lines += ["", f"Best of {self.repeats} repeat(s) per measurement "
                      f"(each at least {self.min_seconds:g} s of stepping) "
                      "after an untimed warm-up; random actions "
                      f"from `numpy.random.default_rng({self.seed})`; episodes reset when they end (vector envs: "
                      "Gymnasium's NEXT_STEP autoreset, a batched step counts `num_envs` env steps). "
                      f"env kwargs: `{json.dumps(self.env_kwargs)}`"
                      + (f"; twin kwargs: `{json.dumps(self.twin_kwargs)}`." if self.twin_kwargs else "."),
                  "", f"Machine: {m['cpu_count']} CPU(s), {m['platform']}, Python {m['python']}, numpy {m['numpy']}, "
                      f"gymnasium {m['gymnasium']}, feedbackgym {m['feedbackgym']}; {m['date_utc']}."]
        return "\n".join(lines) + "\n"


RAW = "single (raw)"
WRAPPED = "single (gym.make)"
SYNC = "SyncVectorEnv"
TWIN = "vector twin"


def machine_info() -> dict:
    return {"platform": platform.platform(terse=True), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
            "gymnasium": gym.__version__, "feedbackgym": feedbackgym.__version__,
            "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def _class_path(obj) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def draw_actions(space, shape: tuple, rng: np.random.Generator):
    """``shape`` random actions of ``space`` drawn up front (so drawing is not timed): integers for
    ``Discrete``/``MultiDiscrete``, uniform floats within finite bounds for ``Box``."""
    if isinstance(space, gym.spaces.Discrete):
        return rng.integers(int(space.start), int(space.start) + int(space.n), size=shape)
    if isinstance(space, gym.spaces.MultiDiscrete):
        return rng.integers(0, space.nvec, size=shape + space.nvec.shape).astype(space.dtype)
    if isinstance(space, gym.spaces.Box):
        low = np.where(np.isfinite(space.low), space.low, -1.0)
        high = np.where(np.isfinite(space.high), space.high, 1.0)
        return rng.uniform(low, high, size=shape + space.shape).astype(space.dtype)
    raise ValueError(f"bench draws Discrete, MultiDiscrete or Box actions; action space is {space}")


def _time_single(env, space, steps: int, rng: np.random.Generator, seed: int, repeats: int,
                 min_seconds: float) -> list[tuple[int, float]]:
    env.reset(seed=seed)

    def run(actions):
        step, reset = env.step, env.reset
        t0 = time.perf_counter()
        for a in actions:
            _, _, terminated, truncated, _ = step(a)
            if terminated or truncated:
                reset()
        return time.perf_counter() - t0

    def draw(n):
        a = draw_actions(space, (n,), rng)
        return a.tolist() if a.ndim == 1 else list(a)

    run(draw(min(_WARMUP_STEPS, steps)))
    return [_repeat(lambda: run(draw(steps)), steps, min_seconds) for _ in range(repeats)]


def _time_vector(venv, space, batches: int, rng: np.random.Generator, seed: int, repeats: int,
                 min_seconds: float) -> list[tuple[int, float]]:
    n = venv.num_envs
    venv.reset(seed=seed)

    def run(actions):
        step = venv.step
        t0 = time.perf_counter()
        for a in actions:
            step(a)
        return time.perf_counter() - t0

    run(draw_actions(space, (_WARMUP_BATCHES, n), rng))
    return [_repeat(lambda: run(draw_actions(space, (batches, n), rng)), batches * n, min_seconds)
            for _ in range(repeats)]


def _repeat(run_batch, batch_steps: int, min_seconds: float) -> tuple[int, float]:
    """One repeat: rounds of ``batch_steps`` env steps until ``min_seconds`` of stepping."""
    steps, seconds = 0, 0.0
    while True:
        seconds += run_batch()
        steps += batch_steps
        if seconds >= min_seconds:
            return steps, seconds


def _row(name, num_envs, runs: list[tuple[int, float]], env) -> BenchRow:
    rates = [n / t if t > 0 else math.inf for n, t in runs]
    best = int(np.argmax(rates))
    return BenchRow(name, num_envs, runs[best][0], runs[best][1], rates[best], _class_path(env), rates)


def bench(env_id: str, num_envs: int = 1024, sync_envs: int | None = None, steps: int = 100_000,
          seed: int = 0, env_kwargs: dict | None = None, twin_kwargs: dict | None = None, repeats: int = 3,
          min_seconds: float = 1.0, which=None,
          progress=None, command: str | None = None) -> BenchResult:
    """Measure env steps per second of ``env_id`` (see the module docstring).

    ``steps``: env steps per round of a repeat; vector measurements run ``ceil(steps / num_envs)``
    batched steps (at least 2) per round. A repeat runs rounds until ``min_seconds`` of stepping
    have passed, so fast envs are timed long enough to be measured. ``sync_envs`` defaults to
    ``num_envs``.
    ``which``: subset of (``"raw"``, ``"wrapped"``, ``"sync"``, ``"twin"``) to run.
    ``twin_kwargs``: extra keyword arguments of the vectorised twin alone (not config fields: e.g.
    the number of threads it steps its sub-envs on), passed to ``gym.make_vec`` beside ``env_kwargs``.
    ``progress``: optional callable given a line of text before each measurement.
    """
    for name, v in (("num_envs", num_envs), ("steps", steps), ("repeats", repeats)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name}: expected an integer >= 1, got {v!r}")
    if not (isinstance(min_seconds, (int, float)) and 0 <= min_seconds < math.inf):
        raise ValueError(f"min_seconds: expected a number >= 0, got {min_seconds!r}")
    sync_envs = num_envs if sync_envs is None else sync_envs
    if isinstance(sync_envs, bool) or not isinstance(sync_envs, int) or sync_envs < 1:
        raise ValueError(f"sync_envs: expected an integer >= 1, got {sync_envs!r}")
    which = set(which or ("raw", "wrapped", "sync", "twin"))
    unknown = which - {"raw", "wrapped", "sync", "twin"}
    if unknown:
        raise ValueError(f"unknown measurement(s) {sorted(unknown)}; known: raw, wrapped, sync, twin")
    kwargs = dict(env_kwargs or {})
    say = progress or (lambda line: None)
    rows: list[BenchRow] = []

    env = gym.make(env_id, **kwargs)
    try:
        space = env.action_space
        draw_actions(space, (1,), np.random.default_rng(seed))  # unsupported spaces fail before timing
        for key, name, target in (("raw", RAW, env.unwrapped), ("wrapped", WRAPPED, env)):
            if key in which:
                say(f"{name}: {repeats} repeat(s) of >= {min_seconds:g} s in rounds of {steps:,} steps")
                runs = _time_single(target, space, steps, np.random.default_rng(seed), seed, repeats, min_seconds)
                rows.append(_row(name, 1, runs, target))
    finally:
        env.close()

    for key, name, n, mode in (("sync", SYNC, sync_envs, "sync"), ("twin", TWIN, num_envs, None)):
        if key not in which:
            continue
        batches = max(2, math.ceil(steps / n))
        say(f"{name} (N={n}): {repeats} repeat(s) of >= {min_seconds:g} s in rounds of {batches:,} batched steps")
        extra = dict(twin_kwargs or {}) if key == "twin" else {}
        venv = gym.make_vec(env_id, num_envs=n, vectorization_mode=mode, **kwargs, **extra)
        try:
            if mode is None and isinstance(venv, (gym.vector.SyncVectorEnv, gym.vector.AsyncVectorEnv)):
                raise ValueError(f"{env_id} registers no vector_entry_point: no vectorised twin to measure")
            runs = _time_vector(venv, space, batches, np.random.default_rng(seed), seed, repeats, min_seconds)
            rows.append(_row(name, n, runs, venv))
        finally:
            venv.close()

    return BenchResult(env_id, kwargs, seed, repeats, min_seconds, rows, machine_info(), command,
                       dict(twin_kwargs or {}))


def write(result: BenchResult, path: str | os.PathLike) -> None:
    """Write ``result`` atomically: JSON if ``path`` ends in ``.json``, else markdown."""
    if str(path).endswith(".json"):
        atomic_write(path, json.dumps(result.to_json(), indent=2) + "\n")
    else:
        atomic_write(path, result.to_markdown())
