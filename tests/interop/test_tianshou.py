"""Tianshou 2.x (extra ``interop``): PPO trains one epoch on every discrete-action id.

Tianshou wraps single Gymnasium envs in its own vector envs; nothing feedbackgym-specific is
needed beyond ``gym.make`` of the bare id. Skipped when Tianshou is not installed.
"""

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("tianshou")
torch = pytest.importorskip("torch")

from tianshou.algorithm import PPO  # noqa: E402
from tianshou.algorithm.modelfree.reinforce import ProbabilisticActorPolicy  # noqa: E402
from tianshou.algorithm.optim import AdamOptimizerFactory  # noqa: E402
from tianshou.data import Collector, VectorReplayBuffer  # noqa: E402
from tianshou.env import DummyVectorEnv  # noqa: E402
from tianshou.trainer import OnPolicyTrainerParams  # noqa: E402
from tianshou.utils.net.common import Net  # noqa: E402
from tianshou.utils.net.discrete import DiscreteActor, DiscreteCritic  # noqa: E402

import feedbackgym  # noqa: E402,F401  (registers the ids)
from feedbackgym import family  # noqa: E402
from feedbackgym.registration import env_ids  # noqa: E402

#: ids Tianshou cannot train yet, and why (non-strict: an XPASS says it was fixed)
PENDING = {
    "feedbackgym/ClusterRightsizing-v0": "Tianshou's buffer check raises MalformedBufferError after 256 steps: "
                                         "info['episode_metrics']['limit_changes_by_day'] is a string (per-day "
                                         "counts, read by experiments/cluster and results/cluster), present on "
                                         "episode-end steps only; Tianshou pads the other steps of a string field "
                                         "with None, and its NaN check (pandas.isnull) counts None. Numeric keys "
                                         "that come and go are padded with 0 and pass. Passes with that key "
                                         "dropped (checked); not changed, to keep the published result files",
}
DISCRETE_IDS = [pytest.param(i, marks=pytest.mark.xfail(reason=PENDING[i], strict=False)) if i in PENDING else i
                for i in env_ids()
                if isinstance(gym.make(i, **family.spec(i).test_kwargs).action_space, gym.spaces.Discrete)]


@pytest.mark.slow
@pytest.mark.parametrize("env_id", DISCRETE_IDS)
def test_tianshou_ppo_trains_one_epoch(env_id):
    kwargs = family.spec(env_id).test_kwargs
    probe = gym.make(env_id, **kwargs)
    obs_shape, n_actions = probe.observation_space.shape, int(probe.action_space.n)
    train_envs = DummyVectorEnv([lambda: gym.make(env_id, **kwargs) for _ in range(2)])
    test_envs = DummyVectorEnv([lambda: gym.make(env_id, **kwargs) for _ in range(1)])
    train_envs.seed(0)
    test_envs.seed(100)
    torch.manual_seed(0)
    actor = DiscreteActor(preprocess_net=Net(state_shape=obs_shape, hidden_sizes=[64, 64]), action_shape=n_actions)
    critic = DiscreteCritic(preprocess_net=Net(state_shape=obs_shape, hidden_sizes=[64, 64]))
    policy = ProbabilisticActorPolicy(actor=actor, dist_fn=torch.distributions.Categorical,
                                      action_space=probe.action_space, action_scaling=False,
                                      deterministic_eval=True)
    algorithm = PPO(policy=policy, critic=critic, optim=AdamOptimizerFactory(lr=3e-4))
    train_collector = Collector(algorithm, train_envs, VectorReplayBuffer(1024, len(train_envs)))
    test_collector = Collector(algorithm, test_envs)
    stats = algorithm.run_training(OnPolicyTrainerParams(
        training_collector=train_collector, test_collector=test_collector, max_epochs=1, epoch_num_steps=512,
        collection_step_num_env_steps=256, update_step_num_repetitions=2, test_step_num_episodes=1,
        batch_size=64))
    assert stats.update_step > 0 and stats.train_step >= 512
    assert stats.test_episode >= 1 and np.isfinite(stats.best_reward)
    train_envs.close()
    test_envs.close()
