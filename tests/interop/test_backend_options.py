"""``train --backend rllib`` options: one clear line for misuse, and without Ray installed."""

import importlib.util

import pytest

from feedbackgym.cli import main
from feedbackgym.registration import env_ids

ENV_ID = env_ids()[0]


@pytest.mark.parametrize("extra", [["--address", "auto"], ["--num-env-runners", "2"], ["--envs-per-runner", "4"]])
def test_rllib_options_need_the_rllib_backend(extra, capsys):
    assert main(["train", ENV_ID, "--algo", "ppo", *extra]) == 2
    assert "--backend rllib" in capsys.readouterr().err


def test_sb3_options_are_refused_by_the_rllib_backend(capsys):
    assert main(["train", ENV_ID, "--algo", "ppo", "--backend", "rllib", "--eval-freq", "100"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("--eval-freq" in err or "distributed" in err)


@pytest.mark.skipif(importlib.util.find_spec("ray") is not None, reason="Ray is installed")
def test_rllib_backend_without_ray_names_the_extra(capsys):
    assert main(["train", ENV_ID, "--algo", "ppo", "--backend", "rllib", "--timesteps", "10"]) == 2
    err = capsys.readouterr().err
    assert "'distributed' extra" in err and err.count("\n") == 1
