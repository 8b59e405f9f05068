"""Saved models as policies: algorithm detection, statistics inside the zip, what a model file may
not do silently (damaged parts, other spaces, another env config), and names before files."""

import shutil
import types
import warnings
import zipfile

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from feedbackgym.agents.evaluation import evaluate  # noqa: E402
from feedbackgym.agents.model_file import read_meta  # noqa: E402
from feedbackgym.agents.policy import Sb3Policy, make_policy, sb3_algo_of, vecnormalize_path  # noqa: E402
from feedbackgym.agents.train import train  # noqa: E402
from feedbackgym.cli import main as cli_main  # noqa: E402

ENV_ID = "feedbackgym/AbrStreaming-v0"


def _tiny(tmp_path, algo="ppo", **kw):
    extra = {"n_steps": 128, "batch_size": 64} if algo == "ppo" else {"learning_starts": 100, "buffer_size": 1000}
    return train(ENV_ID, algo, timesteps=256 if algo == "ppo" else 512, run_dir=tmp_path / algo, progress_bar=False,
                 **{"eval_freq": 0, "n_envs": 2, "checkpoint_freq": 0, "pretrain": None, **extra, **kw})


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_saved_models_are_recognised_and_scored(tmp_path, algo):
    run = _tiny(tmp_path, algo, normalize=True)
    model = run / "model.zip"
    assert sb3_algo_of(model) == algo
    assert not vecnormalize_path(model).exists()  # the statistics live inside the zip
    meta = read_meta(model)
    assert meta["obs_normalization"]["clip_obs"] == 10.0 and meta["env_id"] == ENV_ID
    assert meta["env_config"]["mode"] == "pensieve"
    policy = make_policy(ENV_ID, str(model))
    assert isinstance(policy, Sb3Policy) and policy.obs_normalizer is not None
    result = evaluate(ENV_ID, str(model), {"mode": "pensieve"}, traces="fcc_test", episodes=2)
    assert result.aggregate["episodes"] == 2


def test_copied_model_keeps_its_statistics(tmp_path):
    """`cp model.zip x.zip` scores exactly as the original (the statistics travel inside the zip),
    and exactly as the training-time VecNormalize would have normalised."""
    run = _tiny(tmp_path, normalize=True, checkpoint_freq=256)
    copy = tmp_path / "elsewhere" / "x.zip"
    copy.parent.mkdir()
    shutil.copy(run / "model.zip", copy)
    a = evaluate(ENV_ID, str(run / "model.zip"), {"mode": "pensieve"}, traces="fcc_test", episodes=3)
    b = evaluate(ENV_ID, str(copy), {"mode": "pensieve"}, traces="fcc_test", episodes=3)
    assert a.aggregate == b.aggregate and a.episodes == b.episodes

    import pickle

    (pkl,) = run.glob("checkpoints/step_*/vecnormalize.pkl")  # the same moment's full VecNormalize
    with open(pkl, "rb") as f:
        vn = pickle.load(f)
    obs = np.random.default_rng(0).normal(size=(5, 48)).astype(np.float32)
    out = Sb3Policy(copy).obs_normalizer.normalize_obs(obs)
    assert out.dtype == np.float32 and np.array_equal(out, vn.normalize_obs(obs))


def test_not_a_model(tmp_path):
    bad = tmp_path / "x.zip"
    bad.write_text("nope")
    with pytest.raises(ValueError, match="not a stable-baselines3 model zip"):
        make_policy(ENV_ID, str(bad))
    with pytest.raises(ValueError, match="no such model file"):
        make_policy(ENV_ID, str(tmp_path / "missing.zip"))
    with pytest.raises(ValueError, match="not a baseline"):
        make_policy(ENV_ID, "mpc_typo")


def _rewrite_member(src, dst, member, data: bytes):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            zout.writestr(item, data if item.filename == member else zin.read(item.filename))


def test_damaged_model_parts_give_one_line(tmp_path, capsys):
    run = _tiny(tmp_path)
    model = run / "model.zip"
    garbage = tmp_path / "garbage.zip"
    _rewrite_member(model, garbage, "policy.pth", b"\x00not a torch file")
    with pytest.raises(ValueError, match="garbage.zip"):
        make_policy(ENV_ID, str(garbage))
    flipped = tmp_path / "flipped.zip"  # a bit flip inside a member: the checksum names it
    raw = bytearray(model.read_bytes())
    with zipfile.ZipFile(model) as z:
        info = z.getinfo("policy.pth")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + info.compress_size // 2] ^= 0xFF
    flipped.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"flipped.zip.*policy.pth"):
        make_policy(ENV_ID, str(flipped))
    for path in (garbage, flipped):
        assert cli_main(["evaluate", ENV_ID, "--policy", str(path), "--episodes", "1"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and path.name in err and "Traceback" not in err


def test_names_win_over_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bb").write_text("a file named like a baseline")
    assert not isinstance(make_policy(ENV_ID, "bb"), Sb3Policy)
    (tmp_path / "mymodel").write_text("x")
    with pytest.raises(ValueError, match="path separator|needs a '/'"):
        make_policy(ENV_ID, "mymodel")


def test_spaces_checked_at_load_and_config_mismatch_warns(tmp_path):
    run = _tiny(tmp_path)
    model = str(run / "model.zip")
    other = types.SimpleNamespace(observation_space=gym.spaces.Box(-1, 1, (4,)), action_space=gym.spaces.Discrete(6),
                                  unwrapped=None)
    with pytest.raises(ValueError, match="shape"):
        make_policy(ENV_ID, model, env=other)
    other.observation_space = gym.spaces.Box(-np.inf, np.inf, (48,), np.float32)
    other.action_space = gym.spaces.Discrete(3)
    with pytest.raises(ValueError, match="acts in"):
        make_policy(ENV_ID, model, env=other)

    same = gym.make(ENV_ID, mode="pensieve", traces="fcc_test")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_policy(ENV_ID, model, env=same)  # only the data set differs: no warning
    default_mode = gym.make(ENV_ID, mode="default", traces="fcc_test")
    with pytest.warns(UserWarning, match="mode"):
        make_policy(ENV_ID, model, env=default_mode)
