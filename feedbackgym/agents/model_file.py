"""Saved models: one SB3 zip that carries everything needed to act as trained.

**A model file is code.** An SB3 zip holds pickled Python objects (``data`` may name classes and
schedules that are unpickled on load, ``*.pth`` files go through ``torch.load``): loading a model
can run whatever its author put in it. Load only models you trained yourself or got from someone
you trust, as you would run their scripts.

Besides SB3's own members, :func:`save_model` writes one JSON member, ``feedbackgym.json`` (no
pickle), holding:

* ``obs_normalization``: the ``VecNormalize`` observation statistics the model was trained with
  (``mean``, ``var``, ``count``, ``clip_obs``, ``epsilon``), so a copied or renamed model
  (``cp model.zip x.zip``) still sees observations as in training — a ``vecnormalize.pkl``
  beside the zip was silently lost that way;
* ``env_id``, ``env_config`` (the training env's full config) and the spaces, so evaluation can
  refuse a model whose spaces do not match and warn when the env is configured differently;
* ``selection`` (``best_model.zip``): the evaluation that selected it.

Each save is one atomic file replacement (:func:`feedbackgym.files.atomic_save`), so the model and
its statistics can never come from two different moments of a run. SB3's ``load`` ignores the
extra member.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..files import atomic_save

MEMBER = "feedbackgym.json"
FORMAT = 1


# ------------------------------------------------------------------------------ normaliser


class ObsNormalizer:
    """``VecNormalize.normalize_obs`` from plain statistics (same arithmetic, same float32 result)."""

    mean: Any
    var: Any

    def __init__(self, mean, var, clip_obs: float, epsilon: float, keys: list[str] | None = None):
        self.keys = keys
        if keys is None:
            self.mean, self.var = np.asarray(mean, dtype=np.float64), np.asarray(var, dtype=np.float64)
        else:
            self.mean = {k: np.asarray(mean[k], dtype=np.float64) for k in keys}
            self.var = {k: np.asarray(var[k], dtype=np.float64) for k in keys}
        self.clip_obs, self.epsilon = float(clip_obs), float(epsilon)

    def _one(self, obs, mean, var):
        return np.clip((obs - mean) / np.sqrt(var + self.epsilon), -self.clip_obs, self.clip_obs).astype(np.float32)

    def normalize_obs(self, obs):
        if self.keys is None:
            return self._one(obs, self.mean, self.var)
        out = dict(obs)
        for k in self.keys:
            out[k] = self._one(obs[k], self.mean[k], self.var[k])
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any], source: str) -> ObsNormalizer:
        try:
            return cls(d["mean"], d["var"], d["clip_obs"], d["epsilon"], d.get("keys"))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{source}: {MEMBER} has malformed obs_normalization ({type(e).__name__}: {e})") from None


def normalization_json(vec_normalize) -> dict | None:
    """The observation statistics of a ``VecNormalize`` as JSON (None when it does not normalise
    observations: reward normalisation does not change how the model acts)."""
    if vec_normalize is None or not getattr(vec_normalize, "norm_obs", False):
        return None
    rms = vec_normalize.obs_rms
    out: dict[str, Any] = {"clip_obs": float(vec_normalize.clip_obs), "epsilon": float(vec_normalize.epsilon)}
    if isinstance(rms, dict):
        keys = list(vec_normalize.norm_obs_keys)
        out.update(keys=keys, mean={k: rms[k].mean.tolist() for k in keys}, var={k: rms[k].var.tolist() for k in keys},
                   count={k: float(rms[k].count) for k in keys})
    else:
        out.update(mean=rms.mean.tolist(), var=rms.var.tolist(), count=float(rms.count))
    return out


# ------------------------------------------------------------------------------- metadata


def space_json(space) -> dict:
    """A space as JSON, for a readable mismatch message (the check itself uses the unpickled spaces)."""
    d: dict[str, Any] = {"type": type(space).__name__, "repr": repr(space)}
    shape = getattr(space, "shape", None)
    if shape is not None:
        d["shape"] = list(shape)
    return d


def env_meta(env_id: str | None, env_config: dict | None, observation_space=None, action_space=None) -> dict:
    meta: dict[str, Any] = {"env_id": env_id, "env_config": env_config}
    if observation_space is not None:
        meta["observation_space"] = space_json(observation_space)
    if action_space is not None:
        meta["action_space"] = space_json(action_space)
    return meta


def save_model(model, path: str | os.PathLike, vec_normalize=None, meta: dict | None = None) -> None:
    """``model.save`` plus :data:`MEMBER` (statistics and ``meta``), as one atomic write of ``path``."""
    record = {"format": FORMAT, "obs_normalization": normalization_json(vec_normalize), **(meta or {})}
    text = json.dumps(record, indent=2, allow_nan=True, default=str)

    def write(tmp: Path) -> None:
        buf = io.BytesIO()
        model.save(buf)
        with zipfile.ZipFile(buf, "a", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr(MEMBER, text)
        tmp.write_bytes(buf.getvalue())
    atomic_save(path, write)


def read_meta(path: str | os.PathLike) -> dict:
    """The :data:`MEMBER` record of a saved model ({} for zips saved without one)."""
    try:
        with zipfile.ZipFile(path) as z:
            if MEMBER not in z.namelist():
                return {}
            data = json.loads(z.read(MEMBER))
    except (zipfile.BadZipFile, OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read {MEMBER} ({type(e).__name__}: {e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: {MEMBER} is not a JSON object")
    return data


def obs_normalizer(path: str | os.PathLike) -> ObsNormalizer | None:
    stats = read_meta(path).get("obs_normalization")
    return ObsNormalizer.from_json(stats, str(path)) if stats else None


# ----------------------------------------------------------------------------------- load


def check_zip(path: str | os.PathLike) -> None:
    """Raise one ``ValueError`` naming ``path`` and the damaged member if the zip is corrupt."""
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
            names = z.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise ValueError(f"{path}: not a readable model zip ({type(e).__name__}: {e})") from None
    except Exception as e:  # zlib.error and friends from a damaged member
        raise ValueError(f"{path}: damaged model zip ({type(e).__name__}: {e})") from None
    if bad is not None:
        raise ValueError(f"{path}: damaged model zip (member {bad!r} fails its checksum)")
    for member in ("data", "policy.pth"):
        if member not in names:
            raise ValueError(f"{path}: not a stable-baselines3 model zip (no {member!r} member)")


def load_model(algo_class, path: str | os.PathLike, **kwargs):
    """``algo_class.load(path, **kwargs)`` with any failure turned into one ``ValueError`` naming the
    file (and the damaged member when the zip says which). Loading unpickles: see the module docstring."""
    check_zip(path)
    try:
        return algo_class.load(str(path), **kwargs)
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as e:
        raise ValueError(f"{path}: cannot load the model ({type(e).__name__}: {' '.join(str(e).split())[:300]})") \
            from None
