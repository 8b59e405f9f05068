"""Argument checks every family's numpy-batched twin shares (Gymnasium's vector-env conventions)."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.utils import seeding


def check_reset_mask(mask, n: int) -> np.ndarray | None:
    """``options["reset_mask"]`` checked as Gymnasium's vector envs check it."""
    if mask is None:
        return None
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != (n,):
        raise ValueError(f"reset option 'reset_mask': expected a numpy bool array of shape ({n},), got {mask!r}")
    if not mask.any():
        raise ValueError("reset option 'reset_mask': expected at least one true entry, got none")
    return mask


def seeds_per_env(seed, n: int) -> list[int | None]:
    """``reset(seed=...)`` as one seed per sub-env: an int seeds ``seed, seed+1, ...`` (Gymnasium's
    convention), a sequence gives each sub-env its own (``None`` keeps that generator)."""
    if seed is None:
        return [None] * n
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return [int(seed) + i for i in range(n)]
    try:
        seeds = list(seed)
    except TypeError:
        raise ValueError(f"seed: expected an int, None or {n} seeds, got {seed!r}") from None
    if len(seeds) != n:
        raise ValueError(f"seed: expected an int or {n} seeds, got {len(seeds)}")
    return seeds


def reset_generators(seed, mask, generators, started: bool) -> tuple[np.ndarray, dict]:
    """The sub-envs a twin's ``reset`` restarts (all, or ``mask``'s) and fresh generators for those
    of them that get a seed or have none yet; computed before anything changes, so a failed
    reset leaves the twin as it was."""
    n = len(generators)
    seeds = seeds_per_env(seed, n)
    if mask is not None and not started:
        raise RuntimeError("reset(options={'reset_mask': ...}) before the first full reset()")
    chosen = np.arange(n) if mask is None else np.flatnonzero(mask)
    return chosen, {i: seeding.np_random(seeds[i])[0] for i in chosen if seeds[i] is not None or generators[i] is None}


def index_mask(idx, n: int) -> np.ndarray:
    """A length-``n`` bool mask that is true at ``idx``."""
    m = np.zeros(n, dtype=bool)
    m[idx] = True
    return m


def merge_info(a: dict, b: dict) -> dict:
    """Merge vector info ``b`` into ``a`` (Gymnasium's layout: ``key`` arrays with ``_key`` masks)."""
    out = dict(a)
    for key, v in b.items():
        if key.startswith("_"):
            continue
        mask = b["_" + key]
        if key not in out:
            out[key], out["_" + key] = v, mask
            continue
        if isinstance(v, dict):
            out[key] = merge_info(out[key], v)
        else:
            merged = out[key].astype(np.result_type(out[key].dtype, v.dtype), copy=True)
            merged[mask] = v[mask]
            out[key] = merged
        out["_" + key] = out["_" + key] | mask
    return out


def split_reset_options(options, n: int) -> tuple[np.ndarray | None, dict]:
    """A twin's ``reset`` options checked before anything changes: ``(reset_mask, the rest)``.

    ``options`` must be a dict (or None); a ``reset_mask`` is checked as Gymnasium's vector envs
    check it and may not come with a new ``config`` (a new config resets every sub-env). The rest
    (``config`` and anything unknown) is returned as a fresh dict for the twin to handle.
    """
    if options is not None and not isinstance(options, dict):
        raise ValueError(f"reset options: expected a dict such as {{'reset_mask': mask}} or "
                         f"{{'config': {{...}}}}, got {type(options).__name__} {options!r}")
    rest = dict(options or {})
    mask = check_reset_mask(rest.pop("reset_mask", None), n)
    if mask is not None and "config" in rest:
        raise ValueError("reset options 'config' and 'reset_mask' cannot be combined: a new config resets "
                         "every sub-env")
    return mask, rest


def stack_infos(env, rows: list[tuple[int, dict]]) -> dict:
    """Gymnasium's vector info layout of the sub-env infos ``rows`` ((index, info) pairs, in index
    order) of the VectorEnv ``env``: the dict folding ``env._add_info`` over them builds -- same
    keys in the same order, same arrays, dtypes and ``_key`` masks -- with each array made once
    instead of a mask per key per sub-env (that fold was a quarter of a lock-step twin's step)."""
    n = env.num_envs
    cols: dict[str, list] = {}
    for i, info in rows:
        for key, value in info.items():
            col = cols.get(key)
            if col is None:
                cols[key] = col = []
            col.append((i, value))
    out: dict = {}
    for key, col in cols.items():
        nested = [isinstance(v, dict) for _, v in col]
        if key == "final_obs" or (any(nested) and not all(nested)):  # rare layouts: Gymnasium's own fold
            folded: dict = {}
            for i, info in rows:
                if key in info:
                    folded = env._add_info(folded, {key: info[key]}, i)
            out.update(folded)
            continue
        if nested[0]:
            array: Any = stack_infos(env, [(i, v) for i, v in col])
        else:
            v0 = col[0][1]
            if type(v0) in (int, float, bool) or issubclass(type(v0), np.number):
                array = np.zeros(n, dtype=type(v0))
            elif isinstance(v0, np.ndarray):
                array = np.zeros((n, *v0.shape), dtype=v0.dtype)
            else:
                array = np.full(n, fill_value=None, dtype=object)
            for i, v in col:
                array[i] = v
        mask = np.zeros(n, dtype=np.bool_)
        mask[[i for i, _ in col]] = True
        out[key], out[f"_{key}"] = array, mask
    return out
