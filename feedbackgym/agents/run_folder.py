"""The run folder of a training run: what it holds and how a resume reads it back.

Layout (rl-zoo3 and SB3 keep the same kind of record)::

    config.json          env id, algo, seed, hyperparameters (as given), resolved settings, the env's
                         full config, versions, resumes
    command.txt          every command that wrote to the folder (the first and each resume)
    model.zip            the final model (observation statistics, env config inside: model_file.py)
    best_model.zip       the best model on the validation evaluation (+ best_model.json, a copy of
                         its selection record for people; the zip holds the same record)
    evaluations.csv      one row per evaluation and split
    pretrain.json        behaviour-cloning statistics, when the run cloned a baseline first
    checkpoints/step_N/  model.zip, state.json, vecnormalize.pkl, replay_buffer.pkl (atomic folders)
    tb/                  TensorBoard

Every file is replaced atomically (:mod:`feedbackgym.files`); checkpoints are whole folders
renamed into place (:class:`~feedbackgym.agents.callbacks.AtomicCheckpointCallback`).
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import sys
import warnings
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from ..files import atomic_write, read_csv, write_csv
from .model_file import MEMBER, check_zip, read_meta

CHECKPOINT_RE = re.compile(r"^step_(\d+)$")
#: keys a run's config.json must have for ``--resume``
CONFIG_KEYS = ("env_id", "algo", "seed", "hyperparams")


def list_checkpoints(run_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """Complete checkpoints of a run folder, oldest first, as (num_timesteps, folder)."""
    folder = Path(run_dir) / "checkpoints"
    if not folder.is_dir():
        return []
    out = []
    for p in folder.iterdir():
        m = CHECKPOINT_RE.match(p.name)
        if m and p.is_dir() and (p / "state.json").is_file() and (p / "model.zip").is_file():
            out.append((int(m.group(1)), p))
    return sorted(out)


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    ckpts = list_checkpoints(run_dir)
    return ckpts[-1][1] if ckpts else None


def jsonable(v: Any) -> Any:
    """A value as JSON: classes and functions by their qualified name, numpy scalars as numbers."""
    import numpy as np

    if isinstance(v, Mapping):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    if isinstance(v, type):
        return f"{v.__module__}.{v.__qualname__}"
    if callable(v):
        return f"{getattr(v, '__module__', '?')}:{getattr(v, '__qualname__', repr(v))}"
    return repr(v)


class RunFolder:
    """One run folder: its config, command log, evaluations, best model record and checkpoints."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @classmethod
    def new_default(cls, env_id: str, algo: str, seed: int, root: str | os.PathLike = "runs") -> RunFolder:
        """``runs/<env-name>_<algo>_<seed>_<timestamp>`` (with ``-2``, ``-3``... if taken)."""
        name = env_id.split(":", 1)[-1].split("/")[-1]
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = Path(root) / f"{name}_{algo}_{seed}_{stamp}"
        k = 1
        while path.exists():
            k += 1
            path = Path(root) / f"{name}_{algo}_{seed}_{stamp}-{k}"
        return cls(path)

    # paths
    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def evaluations_path(self) -> Path:
        return self.path / "evaluations.csv"

    @property
    def tb_dir(self) -> Path:
        return self.path / "tb"

    @property
    def model_path(self) -> Path:
        return self.path / "model.zip"

    @property
    def best_model_path(self) -> Path:
        return self.path / "best_model.zip"

    def holds_run(self) -> bool:
        return self.config_path.exists() or latest_checkpoint(self.path) is not None

    # config.json
    def read_config(self) -> dict:
        """The run's config, checked to be one a resume can use (one clear error otherwise)."""
        path = self.config_path
        if not path.is_file():
            raise ValueError(f"resume: {self.path} has no config.json (not a feedbackgym run folder)")
        try:
            config = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"resume: {path} is not valid JSON ({e})") from None
        if not isinstance(config, dict):
            raise ValueError(f"resume: {path}: expected a JSON object, got {type(config).__name__}")
        missing = [k for k in CONFIG_KEYS if k not in config]
        if missing:
            raise ValueError(f"resume: {path} lacks {', '.join(missing)} (a feedbackgym train config.json has "
                             f"{', '.join(CONFIG_KEYS)}); start a new run instead")
        for key, kind in (("env_id", str), ("algo", str), ("hyperparams", dict)):
            if not isinstance(config[key], kind):
                raise ValueError(f"resume: {path}: {key} must be a {'string' if kind is str else 'JSON object'}, "
                                 f"got {config[key]!r}")
        seed = config["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"resume: {path}: seed must be a non-negative integer, got {seed!r}")
        return config

    def write_config(self, config: dict) -> None:
        atomic_write(self.config_path, json.dumps(jsonable(config), indent=2) + "\n")

    def update_config(self, **fields) -> None:
        if not self.config_path.is_file():
            return
        config = json.loads(self.config_path.read_text())
        config.update(fields)
        self.write_config(config)

    def record_resume(self, from_step: int, n_timesteps: int) -> None:
        """The total asked for now (a larger ``--timesteps`` extends the run) and the resume itself."""
        config = json.loads(self.config_path.read_text())
        config["hyperparams"]["n_timesteps"] = n_timesteps
        config.setdefault("resolved", {})["n_timesteps"] = n_timesteps
        config.setdefault("resumes", []).append({"from_step": from_step, "n_timesteps": n_timesteps,
                                                 "time": datetime.now().isoformat(timespec="seconds")})
        self.write_config(config)

    # command.txt
    def append_command(self, call: dict, resumed_from: int | None) -> None:
        path = self.path / "command.txt"
        old = path.read_text() if path.is_file() else ""
        argv = shlex.join(sys.argv) if sys.argv and sys.argv[0] else "(interactive)"
        args = ", ".join(f"{k}={v!r}" for k, v in call.items())
        text = f"{argv}\n# python: feedbackgym.agents.train.train({args})\n"
        if resumed_from is not None:
            text = f"# resumed at step {resumed_from} ({datetime.now().isoformat(timespec='seconds')}):\n{text}"
        atomic_write(path, old + text)

    # evaluations and the best model
    def evaluations(self) -> list[dict]:
        return read_csv(self.evaluations_path)

    def drop_evaluations_after(self, step: int) -> None:
        """Forget evaluations a killed process logged after the checkpoint it is resumed from."""
        rows = self.evaluations()
        kept = [r for r in rows if int(float(r.get("timesteps", 0))) <= step]
        if len(kept) != len(rows):
            write_csv(self.evaluations_path, kept)

    def best_score(self) -> float:
        """The validation score ``best_model.zip`` was selected with (-inf without one). Read from
        the zip itself, so a copy of the record that a kill left stale cannot mislead a resume."""
        if not self.best_model_path.is_file():
            return -math.inf
        selection = read_meta(self.best_model_path).get("selection")
        if selection is None and (self.path / "best_model.json").is_file():  # runs from before the record moved
            selection = json.loads((self.path / "best_model.json").read_text())
        if not isinstance(selection, Mapping) or "score" not in selection:
            return -math.inf
        return float(selection["score"])

    # checkpoints
    def checkpoints(self) -> list[tuple[int, Path]]:
        return list_checkpoints(self.path)

    def resume_checkpoint(self) -> tuple[Path, dict] | None:
        """The newest checkpoint that is whole (its zip passes its checksums, ``state.json`` reads),
        with its state; a damaged newer one is skipped with a warning naming the file."""
        for _, folder in reversed(self.checkpoints()):
            try:
                state = json.loads((folder / "state.json").read_text())
                if not isinstance(state, dict) or not isinstance(state.get("num_timesteps"), int):
                    raise ValueError(f"{folder / 'state.json'}: no integer num_timesteps")
                check_zip(folder / "model.zip")
            except (ValueError, OSError, UnicodeDecodeError) as e:
                warnings.warn(f"resume: skipping damaged checkpoint {folder}: {e}", UserWarning, stacklevel=2)
                print(f"feedbackgym train: skipping damaged checkpoint {folder}: {e}", file=sys.stderr)
                continue
            return folder, state
        return None


__all__ = ["RunFolder", "list_checkpoints", "latest_checkpoint", "jsonable", "CONFIG_KEYS", "MEMBER"]
