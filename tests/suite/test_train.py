"""Training: PPO/DQN smoke runs on every registered id, resume after kill -9, the SB3 adapter of the
vectorised twin, TensorBoard tags, hyperparameter files.

Runs are tiny (a few thousand steps, a few evaluation episodes); nothing here asserts a speed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")
torch = pytest.importorskip("torch")

from feedbackgym.agents.callbacks import AtomicCheckpointCallback, EntropyScheduleCallback  # noqa: E402
from feedbackgym.agents.policy import Sb3Policy  # noqa: E402
from feedbackgym.agents.run_folder import latest_checkpoint, list_checkpoints  # noqa: E402
from feedbackgym.agents.sb3_vec import TwinVecEnv, make_sb3_vec_env  # noqa: E402
from feedbackgym.agents.settings import resolve_hyperparams, split_hyperparams  # noqa: E402
from feedbackgym.agents.train import train  # noqa: E402
from feedbackgym.files import read_csv  # noqa: E402
from feedbackgym import family  # noqa: E402
from feedbackgym.registration import env_ids  # noqa: E402

ABR = "feedbackgym/AbrStreaming-v0"

#: Small settings that any env's hyperparameter block accepts (eval: 2 episodes per split).
# The packaged ABR recipes clone robustMPC before RL (~20 s); these tests are about the training
# machinery, so they switch cloning off (test_pretrain_block_calls_imitation covers the hook).
SMOKE = {
    "ppo": dict(timesteps=2048, n_envs=4, n_steps=128, batch_size=128, n_epochs=2, checkpoint_freq=1024,
                eval_freq=1024, pretrain=None),
    "dqn": dict(timesteps=2000, n_envs=4, learning_starts=500, buffer_size=4000, batch_size=32,
                target_update_interval=500, checkpoint_freq=1000, eval_freq=1000, pretrain=None),
}


def _tb(run_dir: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0, "tensors": 0})
    ea.Reload()
    return ea


def _deep_equal(a, b, where="info"):
    if isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            _deep_equal(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert np.array_equal(a, b), f"{where}: {a!r} != {b!r}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


# --------------------------------------------------------------------------------- smoke


def test_abr_tensorboard_tags_and_report_only_split(tmp_path):
    """The ABR block: env KPIs, validation eval on the training traces, FCC test logged but never selecting."""
    run = train(ABR, "ppo", run_dir=tmp_path / "run", progress_bar=False, eval_kwargs={"episodes": 2},
                **SMOKE["ppo"])
    scalars = set(_tb(run).Tags()["scalars"])
    for tag in ("env/qoe_per_chunk", "env/rebuffer_ratio", "env/mean_bitrate_mbps", "env/switches",
                "env/reward_components/bitrate_mbps", "env/reward_components/rebuffer_s",
                "env/reward_components/switch_mbps", "eval/qoe_per_chunk", "eval/fcc_test/qoe_per_chunk",
                "train/ent_coef", "train/learning_rate"):
        assert tag in scalars, tag
    assert "env/trace_index" not in scalars
    rows = read_csv(run / "evaluations.csv")
    assert {r["eval"] for r in rows} == {"validation", "fcc_test", "hsdpa_holdout"}
    assert all(r["best"] == "" for r in rows if r["eval"] != "validation")
    best = json.loads((run / "best_model.json").read_text())
    assert best["eval"] == "validation"
    config = json.loads((run / "config.json").read_text())
    assert config["env_config"]["mode"] == "pensieve" and config["env_config"]["traces"] == "train_fit"
    ent = [e.value for e in _tb(run).Scalars("train/ent_coef")]
    assert ent[0] == pytest.approx(0.02, abs=0.005) and ent[-1] < ent[0]  # 0.02 -> 0.005 decay


# --------------------------------------------------------------------------------- resume


@pytest.mark.slow
def test_resume_after_kill_9(tmp_path):
    run = tmp_path / "run"
    code = textwrap.dedent(f"""
        import torch
        torch.set_num_threads(1)
        from feedbackgym.agents.train import train
        train({ABR!r}, "ppo", pretrain=None, timesteps=10**7, run_dir={str(run)!r}, progress_bar=False, n_envs=4,
              n_steps=128,
              batch_size=128, n_epochs=2, checkpoint_freq=1024, eval_freq=1024, eval_kwargs={{"episodes": 2}})
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # No deadline: a loaded machine may take long; the child dying is what fails the test.
        while len(list_checkpoints(run)) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.05)
        time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (run / "model.zip").exists()  # it really died mid-run
    step = list_checkpoints(run)[-1][0]
    rows_before = [r for r in read_csv(run / "evaluations.csv") if int(r["timesteps"]) <= step]
    assert rows_before

    train(ABR, "ppo", timesteps=step + 1024, run_dir=run, resume=True, progress_bar=False)

    config = json.loads((run / "config.json").read_text())
    assert config["num_timesteps"] == step + 1024
    assert list_checkpoints(run)[-1][0] == step + 1024
    rows = read_csv(run / "evaluations.csv")
    assert rows[:len(rows_before)] == rows_before  # history kept ...
    assert max(int(r["timesteps"]) for r in rows) == step + 1024  # ... and appended
    assert len({(r["timesteps"], r["eval"]) for r in rows}) == len(rows)  # nothing evaluated twice
    assert "resumed at step" in (run / "command.txt").read_text()
    ea = _tb(run)
    steps = [e.step for e in ea.Scalars("eval/mean_reward_per_step")]
    assert steps == sorted(steps) and steps[-1] == step + 1024
    assert max(e.step for e in ea.Scalars("env/qoe_per_chunk")) > step
    Sb3Policy(run / "model.zip")

    # a finished run resumed without a larger --timesteps has nothing left to do
    train(ABR, "ppo", run_dir=run, resume=True, progress_bar=False, timesteps=step + 1024)
    assert json.loads((run / "config.json").read_text())["num_timesteps"] == step + 1024


def test_resume_errors(tmp_path):
    with pytest.raises(ValueError, match="run-dir"):
        train(ABR, "ppo", pretrain=None, resume=True)
    with pytest.raises(ValueError, match="config.json"):
        train(ABR, "ppo", resume=True, run_dir=tmp_path)
    run = train(ABR, "ppo", pretrain=None, run_dir=tmp_path / "r", progress_bar=False, timesteps=512, n_envs=4,
                n_steps=128,
                batch_size=128, eval_freq=0, checkpoint_freq=0)
    with pytest.raises(ValueError, match="already holds a run"):
        train(ABR, "ppo", pretrain=None, run_dir=run, timesteps=512)
    with pytest.raises(ValueError, match="dqn"):
        train(ABR, "dqn", pretrain=None, run_dir=run, resume=True)
    with pytest.raises(ValueError, match="differ"):
        train(ABR, "ppo", pretrain=None, run_dir=run, resume=True, env_kwargs={"reward": "qoe_log"})


def test_resume_reads_only_whole_run_configs(tmp_path):
    """`{}` or a config.json without the run's keys is one clear error, not a KeyError."""
    for text, match in (("{}", "lacks env_id, algo, seed, hyperparams"), ('{"env_id": "x"}', "lacks algo"),
                        ("[1, 2]", "JSON object"), ("{not json", "not valid JSON"),
                        (json.dumps({"env_id": ABR, "algo": "ppo", "seed": -1, "hyperparams": {}}), "seed")):
        run = tmp_path / f"r{len(list(tmp_path.iterdir()))}"
        run.mkdir()
        (run / "config.json").write_text(text)
        with pytest.raises(ValueError, match=match) as e:
            train(ABR, "ppo", run_dir=run, resume=True, progress_bar=False)
        assert "config.json" in str(e.value)


def test_resume_skips_a_damaged_newest_checkpoint(tmp_path):
    kw = dict(n_envs=4, n_steps=128, batch_size=128, n_epochs=1, eval_freq=0, checkpoint_freq=512, pretrain=None,
              progress_bar=False)
    run = train(ABR, "ppo", timesteps=1024, run_dir=tmp_path / "r", **kw)
    (s1, _), (s2, newest) = list_checkpoints(run)[-2:]
    (newest / "model.zip").write_bytes((newest / "model.zip").read_bytes()[:200])  # torn by a disk fault
    with pytest.warns(UserWarning, match=re.escape(str(newest))):
        train(ABR, "ppo", timesteps=1536, run_dir=run, resume=True, progress_bar=False)
    config = json.loads((run / "config.json").read_text())
    assert config["resumes"][-1]["from_step"] == s1 and config["num_timesteps"] == 1536
    assert Sb3Policy(run / "model.zip").model.num_timesteps == 1536


def test_atomic_checkpoints_ignore_partial_writes(tmp_path):
    folder = tmp_path / "checkpoints"
    (folder / "step_000000000100").mkdir(parents=True)  # killed before state.json: incomplete
    (folder / "step_000000000100" / "model.zip").write_bytes(b"PK")
    (folder / ".tmp-step_000000000200-1").mkdir()
    assert latest_checkpoint(tmp_path) is None
    done = folder / "step_000000000050"
    done.mkdir()
    (done / "model.zip").write_bytes(b"")
    (done / "state.json").write_text("{}")
    assert latest_checkpoint(tmp_path) == done
    with pytest.raises(ValueError):
        AtomicCheckpointCallback(0, tmp_path)


# ----------------------------------------------------------------------- hyperparameters


def test_hyperparams_resolution_and_parsing(tmp_path):
    hp, source = resolve_hyperparams(ABR, "ppo")
    assert source.endswith("ppo.yml")
    assert hp["env_kwargs"]["mode"] == "pensieve" and hp["env_kwargs"]["traces"] == "train_fit"
    assert hp["callback"] == [{"feedbackgym.agents.callbacks.EntropyScheduleCallback": {"start": 0.02, "end": 0.005}}]
    assert hp["pretrain"]["baseline"] == "robust_mpc"
    assert hp["pretrain"]["fn"] == "feedbackgym.agents.imitation:pretrain"
    assert hp["eval_env_kwargs"]["traces"] == "train_fit"  # validation split, never the test set
    assert {"fcc_test", "hsdpa_holdout"} <= set(hp["extra_evals"])
    settings, kwargs = split_hyperparams({**hp, "learning_rate": "lin_0.001"}, "ppo")
    assert kwargs["learning_rate"](1.0) == pytest.approx(1e-3) and kwargs["learning_rate"](0.5) == pytest.approx(5e-4)
    assert kwargs["policy_kwargs"]["activation_fn"] is torch.nn.ReLU
    assert kwargs["ent_coef"] == 0.02 and settings.vec_env == "twin" and settings.eval_episodes is None
    for algo in ("ppo", "dqn"):
        hp, _ = resolve_hyperparams("feedbackgym/NoSuchEnv-v0", algo)  # falls back to `default`
        split_hyperparams(hp, algo)

    f = tmp_path / "hp.yml"
    f.write_text("default:\n  n_timesteps: 100\n  n_envs: 2\nAbrStreaming-v0:\n  n_envs: 3\n  gamma: 0.9\n")
    hp, _ = resolve_hyperparams(ABR, "ppo", f, {"gamma": 0.95})
    assert hp == {"n_timesteps": 100, "n_envs": 3, "gamma": 0.95}
    hp, _ = resolve_hyperparams(ABR, "ppo", {"n_envs": 5})  # a bare block: over the packaged file
    assert hp["n_envs"] == 5 and hp["pretrain"]["episodes"] == 1000

    with pytest.raises(ValueError, match="unknown key"):
        split_hyperparams({"n_timesteps": 10, "not_a_knob": 1}, "ppo")
    with pytest.raises(ValueError, match="ent_coef_schedule"):
        split_hyperparams({"n_timesteps": 10, "ent_coef_schedule": [0.1, 0.0]}, "dqn")
    with pytest.raises(ValueError, match="learning_rate"):
        split_hyperparams({"n_timesteps": 10, "learning_rate": "fast"}, "ppo")
    with pytest.raises(ValueError, match="policy_kwargs"):
        split_hyperparams({"n_timesteps": 10, "policy_kwargs": "dict(net_arch=["}, "ppo")
    with pytest.raises(ValueError, match="n_timesteps"):
        split_hyperparams({"n_timesteps": -1}, "ppo")
    with pytest.raises(ValueError, match="eval_freq"):
        split_hyperparams({"n_timesteps": 10, "eval_freq": "often"}, "ppo")
    with pytest.raises(ValueError, match="vec_env"):
        split_hyperparams({"n_timesteps": 10, "vec_env": "threads"}, "ppo")
    with pytest.raises(ValueError, match="algo"):
        train(ABR, "sac", pretrain=None)
    with pytest.raises(ValueError, match="unknown env id"):
        train("feedbackgym/NoSuchEnv-v0", "ppo")
    bad = tmp_path / "bad.yml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ValueError, match="bad.yml"):
        train(ABR, "ppo", pretrain=None, hyperparams=bad)
    bad.write_text("default:\n  n_timesteps: 100\n  n_envs: zero\n")
    with pytest.raises(ValueError, match=r"bad.yml:3: .*n_envs"):  # file, line, field
        train(ABR, "ppo", pretrain=None, hyperparams=bad)
    bad.write_text("default:\n  n_timesteps: 100\nfeedbackgym_train:\n  default:\n    eval_freq: 1\n    knob: 2\n")
    with pytest.raises(ValueError, match=r"bad.yml:6: .*'knob'"):
        train(ABR, "ppo", pretrain=None, hyperparams=bad)


def test_both_file_layouts_resolve_alike(tmp_path):
    """A block with every key (older files) and the rl-zoo3 block + feedbackgym_train section give
    the same hyperparameters."""
    flat = tmp_path / "flat.yml"
    flat.write_text("AbrStreaming-v0:\n  n_timesteps: 100\n  n_envs: 2\n  gamma: 0.9\n  vec_env: dummy\n"
                    "  eval_freq: 50\n")
    split = tmp_path / "split.yml"
    split.write_text("AbrStreaming-v0:\n  n_timesteps: 100\n  n_envs: 2\n  gamma: 0.9\n"
                     "feedbackgym_train:\n  AbrStreaming-v0:\n    vec_env: dummy\n    eval_freq: 50\n")
    assert resolve_hyperparams(ABR, "ppo", flat)[0] == resolve_hyperparams(ABR, "ppo", split)[0]


def test_packaged_blocks_are_rl_zoo3_blocks():
    """rl-zoo3 hands every key of an env's block that it does not consume to the algorithm, and it
    does not merge `default` into an env's block: the packaged blocks hold only keys the algorithm
    or rl-zoo3 take, and each env block is complete."""
    import inspect

    import yaml

    from feedbackgym.agents.settings import SECTION, algo_class, hyperparams_path

    zoo_keys = {"n_timesteps", "policy", "n_envs", "env_kwargs", "normalize", "callback", "policy_kwargs"}
    for algo in ("ppo", "dqn"):
        data = yaml.safe_load(hyperparams_path(algo).read_text())
        allowed = set(inspect.signature(algo_class(algo).__init__).parameters) | zoo_keys
        default = data["default"]
        for name, block in data.items():
            if name == SECTION:
                continue
            assert set(block) <= allowed, (algo, name, set(block) - allowed)
            assert set(default) <= set(block), (algo, name, set(default) - set(block))


def test_policy_kwargs_strings_never_run_code(tmp_path):
    """A YAML value cannot escape the policy_kwargs parser (the old eval with empty builtins could)."""
    marker = tmp_path / "pwned"
    escapes = [
        f"[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen'][0](['touch', '{marker}'])",
        f"__import__('os').system('touch {marker}')",
        "dict(net_arch=[64], activation_fn=nn.Module)",
        "dict(activation_fn=th.load)",
        "nn.ReLU()",
        "dict(**{'a': 1})",
    ]
    for text in escapes:
        with pytest.raises(ValueError, match="policy_kwargs"):
            split_hyperparams({"n_timesteps": 10, "policy_kwargs": text}, "ppo")
    assert not marker.exists()
    _, kw = split_hyperparams({"n_timesteps": 10, "policy_kwargs": "dict(net_arch=dict(pi=[32], vf=[32]), "
                               "activation_fn=nn.Tanh, optimizer_class=th.optim.RMSprop, "
                               "optimizer_kwargs=dict(eps=1e-5, alpha=0.99), ortho_init=False)"}, "ppo")
    assert kw["policy_kwargs"]["activation_fn"] is torch.nn.Tanh
    assert kw["policy_kwargs"]["optimizer_class"] is torch.optim.RMSprop
    assert kw["policy_kwargs"]["optimizer_kwargs"] == {"eps": 1e-5, "alpha": 0.99}
    with pytest.raises(ValueError, match="normalize"):
        split_hyperparams({"n_timesteps": 10, "normalize": "__import__('os')"}, "ppo")


def test_import_strings_are_checked(monkeypatch):
    """`callback` and `pretrain.fn` name trusted packages only, and must be what they are used as."""
    from feedbackgym.agents.settings import TRUSTED_ENV, load_import, make_callbacks

    with pytest.raises(ValueError, match="trusted"):
        load_import("this:s", "callback")  # importing `this` would print the Zen of Python
    with pytest.raises(ValueError, match="BaseCallback"):
        make_callbacks([("feedbackgym.agents.settings:load_import", {})])
    with pytest.raises(ValueError, match="cannot import"):
        load_import("feedbackgym.agents.nothing_here:X", "callback")
    monkeypatch.setenv(TRUSTED_ENV, "json")
    assert callable(load_import("json:dumps", "pretrain.fn"))
    (cb,) = make_callbacks([("feedbackgym.agents.callbacks.EntropyScheduleCallback", {"start": 0.1, "end": 0.0})])
    assert isinstance(cb, EntropyScheduleCallback)


def test_entropy_schedule_values():
    cb = EntropyScheduleCallback(0.05, 0.01, 1000)
    assert cb.value(0) == pytest.approx(0.05)
    assert cb.value(500) == pytest.approx(0.03)
    assert cb.value(1000) == pytest.approx(0.01) and cb.value(5000) == pytest.approx(0.01)
    half = EntropyScheduleCallback(0.05, 0.01, 1000, fraction=0.5)
    assert half.value(500) == pytest.approx(0.01)


def test_pretrain_block_calls_imitation(tmp_path, monkeypatch):
    """A `pretrain` block calls feedbackgym.agents.imitation.pretrain(model, env_id, env_kwargs, **block)."""
    import types

    calls = []
    fake = types.ModuleType("feedbackgym.agents.imitation")

    def pretrain(model, env_id, env_kwargs, **block):
        calls.append((type(model).__name__, env_id, env_kwargs, block))
        return {"samples": 1}

    fake.pretrain = pretrain
    monkeypatch.setitem(sys.modules, "feedbackgym.agents.imitation", fake)
    import feedbackgym.agents as agents_pkg
    monkeypatch.setattr(agents_pkg, "imitation", fake, raising=False)
    run = train(ABR, "ppo", run_dir=tmp_path / "r", progress_bar=False, timesteps=512, n_envs=4, n_steps=128,
                batch_size=128, eval_freq=512, checkpoint_freq=0, eval_kwargs={"episodes": 1},
                pretrain={"baseline": "robust_mpc", "episodes": 3, "epochs": 1})
    assert calls and calls[0][0] == "PPO" and calls[0][1] == ABR
    assert calls[0][2]["mode"] == "pensieve" and calls[0][3]["baseline"] == "robust_mpc"
    assert json.loads((run / "pretrain.json").read_text())["stats"] == {"samples": 1}
    assert read_csv(run / "evaluations.csv")[0]["timesteps"] == "0"  # the clone is scored before RL

    empty = types.ModuleType("feedbackgym.agents.imitation")  # module without pretrain()
    monkeypatch.setitem(sys.modules, "feedbackgym.agents.imitation", empty)
    monkeypatch.setattr(agents_pkg, "imitation", empty, raising=False)
    with pytest.raises(ValueError, match="imitation"):
        train(ABR, "ppo", run_dir=tmp_path / "r2", progress_bar=False, timesteps=512, n_envs=4, n_steps=128,
              batch_size=128, eval_freq=0, checkpoint_freq=0, pretrain={"baseline": "robust_mpc"})


# ------------------------------------------------------------------------------ vec envs


def test_twin_vec_env_rejects_next_step_mode():
    import gymnasium as gym

    venv = gym.make_vec(ABR, num_envs=2, vectorization_mode="vector_entry_point")
    with pytest.raises(ValueError, match="SAME_STEP"):
        TwinVecEnv(venv)
    with pytest.raises(ValueError, match="vec_env"):
        make_sb3_vec_env(ABR, 2, "threads")


@pytest.mark.slow
@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
@pytest.mark.parametrize("env_id", env_ids())
def test_subproc_vec_env_children(env_id, start_method):
    kwargs = family.spec(env_id).test_kwargs
    """'feedbackgym:<id>' makes the env in SubprocVecEnv children started with spawn/forkserver,
    and the children's transitions equal those of envs made in this process."""
    import multiprocessing

    if start_method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"{start_method} not available")
    sub = make_sb3_vec_env(env_id, 2, "subproc", kwargs, seed=5, start_method=start_method)
    dummy = make_sb3_vec_env(env_id, 2, "dummy", kwargs, seed=5)
    try:
        assert np.array_equal(sub.reset(), dummy.reset())
        for _ in range(5):
            a = np.array([sub.action_space.sample() for _ in range(2)])
            o1, r1, d1, _ = sub.step(a)
            o2, r2, d2, _ = dummy.step(a)
            # SubprocVecEnv stacks rewards as float64, DummyVecEnv keeps a float32 buffer
            assert np.array_equal(o1, o2) and np.array_equal(r1.astype(np.float32), r2) and np.array_equal(d1, d2)
        assert sub.get_attr("spec")[0].id == env_id
    finally:
        sub.close()
        dummy.close()


def test_same_seed_same_training(tmp_path):
    """Seeds of python, numpy, torch and the envs make a run reproducible; another seed differs."""
    kw = dict(timesteps=1024, n_envs=4, n_steps=128, batch_size=128, n_epochs=2, eval_freq=0, checkpoint_freq=0,
              progress_bar=False)
    params = []
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        run = train(ABR, "ppo", pretrain=None, seed=seed, run_dir=tmp_path / name, **kw)
        model = Sb3Policy(run / "model.zip").model
        params.append(torch.cat([p.detach().flatten() for p in model.policy.parameters()]))
    assert torch.equal(params[0], params[1])
    assert not torch.equal(params[0], params[2])
