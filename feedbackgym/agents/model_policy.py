"""The model being trained, as a policy of the evaluation harness.

Training-time evaluation (:class:`~feedbackgym.agents.callbacks.PeriodicEvalCallback`) and
behaviour-cloning scripts score the live model with the family's test protocol; a saved model
file is played by :class:`~feedbackgym.agents.policy.Sb3Policy` instead.
"""

from __future__ import annotations

import numpy as np


class ModelPolicy:
    """The model being trained as an evaluation-harness policy (deterministic actions).

    ``obs_normalizer``: a ``VecNormalize`` whose observation statistics the model was trained on.
    """

    def __init__(self, model, obs_normalizer=None, deterministic: bool = True):
        self.model = model
        self.obs_normalizer = obs_normalizer
        self.deterministic = deterministic

    def reset(self, env, obs, info) -> None:
        pass

    def act(self, obs, info):
        return self.act_batch(np.asarray(obs)[None])[0]

    def act_batch(self, obs: np.ndarray) -> list:
        """Actions for a batch of observations (one forward pass): python ints for ``Discrete``
        spaces, arrays for ``MultiDiscrete`` and ``Box`` (clipped to the space, as SB3's predict)."""
        import torch
        from gymnasium import spaces

        if self.obs_normalizer is not None:
            obs = self.obs_normalizer.normalize_obs(obs)
        policy = self.model.policy
        policy.set_training_mode(False)
        with torch.no_grad():
            tensor, _ = policy.obs_to_tensor(obs)
            actions = policy._predict(tensor, deterministic=self.deterministic).cpu().numpy()
        space = self.model.action_space
        if isinstance(space, spaces.Discrete):
            return actions.reshape(-1).tolist()
        actions = actions.reshape((-1, *space.shape))
        if isinstance(space, spaces.Box):
            if getattr(policy, "squash_output", False):
                actions = policy.unscale_action(actions)
            actions = np.clip(actions, space.low, space.high)
        return list(actions)


def evaluate_batched(env_id: str, policy: ModelPolicy, env_kwargs: dict | None = None, episodes: int | None = None,
                     seed: int = 0, envs: list | None = None) -> tuple[list[dict], dict]:
    """:func:`~feedbackgym.agents.evaluation.evaluate` for a stateless model, all episodes at once
    (:func:`~feedbackgym.agents.rollout.run_lockstep`): the same per-episode records and aggregate
    whenever an episode's outcome depends only on its reset seed and options (true under a test
    protocol). ``envs``: envs made earlier with the same kwargs, reused (and extended) across calls.
    """
    import gymnasium as gym

    from .evaluation import aggregate, episode_plan, evaluation_kwargs
    from .rollout import RecordKeys, run_lockstep

    kwargs = evaluation_kwargs(env_id, env_kwargs)
    if envs is None:
        envs = []
    if not envs:
        envs.append(gym.make(env_id, **kwargs))
    plan = episode_plan(env_id, envs[0], episodes, seed)
    while len(envs) < len(plan):
        envs.append(gym.make(env_id, **kwargs))
    records = run_lockstep(envs, policy.act_batch, plan, RecordKeys.of(env_id))
    return records, aggregate(env_id, records)
