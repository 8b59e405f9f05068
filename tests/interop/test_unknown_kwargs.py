"""Unknown env keywords: one error that is both ``TypeError`` and ``ValueError``, for every id.

TorchRL's ``GymEnv`` probes ``gym.make(id, frameskip=...)`` and recovers only from a
``TypeError`` saying "got an unexpected keyword argument"; our own callers (and the CLI) catch
``ValueError``. Needs no RL client, so it runs in the plain suite.
"""

import gymnasium as gym
import pytest

import feedbackgym  # noqa: F401  (registers the ids)
from feedbackgym.config import UnknownFieldError
from feedbackgym.registration import env_ids


@pytest.mark.parametrize("env_id", env_ids())
def test_unknown_keyword_is_type_and_value_error(env_id):
    with pytest.raises(TypeError, match="got an unexpected keyword argument 'frameskip'") as info:
        gym.make(env_id, frameskip=4)
    assert isinstance(info.value, ValueError)
    assert "frameskip" in str(info.value) and "known fields" in str(info.value)


@pytest.mark.parametrize("env_id", env_ids())
def test_unknown_reset_config_field_is_the_same_error(env_id):
    env = gym.make(env_id)
    with pytest.raises(UnknownFieldError, match="unexpected keyword argument 'colour'"):
        env.reset(seed=0, options={"config": {"colour": 1}})
    env.close()
