"""CleanRL-style single-file PPO on a feedbackgym env, through its numpy-batched vector twin.

CleanRL's ``ppo.py`` (https://github.com/vwxyzjn/cleanrl) reads finished episodes from
``infos["final_info"]``, which Gymnasium 1.x vector envs no longer fill in the default
``NEXT_STEP`` autoreset mode, so it logs no episodes. This file is the same algorithm (PPO with
GAE, clipped surrogate and value losses, entropy bonus, advantage normalisation, annealed
learning rate; Huang et al. 2022, "The 37 Implementation Details of PPO") written for
Gymnasium >= 1.2's vector API:

- ``gym.make_vec(env_id, num_envs=N, vectorization_mode="vector_entry_point")`` builds the
  env's own batched twin (one numpy process for all N sub-envs, no subprocesses);
- ``gymnasium.wrappers.vector.RecordEpisodeStatistics`` puts each finished episode in
  ``infos["episode"]`` with the mask ``infos["_episode"]``; that is what is logged;
- ``NEXT_STEP`` autoreset: the step after an episode ends only resets that sub-env (its action
  is ignored, its reward is 0), so such steps are masked out of the losses, and GAE does not
  bootstrap across the episode boundary.

Run::

    python examples/cleanrl_ppo.py --env-id feedbackgym/AbrStreaming-v0 --total-timesteps 200000
    python examples/cleanrl_ppo.py --tensorboard runs/cleanrl   # episodic returns in TensorBoard

Discrete action spaces only, as CleanRL's ``ppo.py``. Needs torch (``pip install 'feedbackgym[train]'``).
"""

from __future__ import annotations

import argparse
import json
import random
import time

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
from torch.distributions.categorical import Categorical

import feedbackgym  # noqa: F401  (registers the ids; or use the id "feedbackgym:feedbackgym/...")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--env-id", default="feedbackgym/AbrStreaming-v0")
    p.add_argument("--env-kwargs", default="{}", help="env config fields as a JSON object")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--total-timesteps", type=int, default=200_000)
    p.add_argument("--learning-rate", type=float, default=2.5e-4)
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--num-steps", type=int, default=128, help="steps per sub-env per rollout")
    p.add_argument("--anneal-lr", type=int, default=1)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--gae-lambda", type=float, default=0.95)
    p.add_argument("--num-minibatches", type=int, default=4)
    p.add_argument("--update-epochs", type=int, default=4)
    p.add_argument("--clip-coef", type=float, default=0.2)
    p.add_argument("--ent-coef", type=float, default=0.01)
    p.add_argument("--vf-coef", type=float, default=0.5)
    p.add_argument("--max-grad-norm", type=float, default=0.5)
    p.add_argument("--torch-threads", type=int, default=1)
    p.add_argument("--tensorboard", metavar="DIR", help="also log charts/episodic_return etc. to TensorBoard")
    return p.parse_args(argv)


def layer_init(layer, std=np.sqrt(2), bias_const=0.0):
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer


class Agent(nn.Module):
    def __init__(self, obs_dim: int, n_actions: int):
        super().__init__()
        self.critic = nn.Sequential(layer_init(nn.Linear(obs_dim, 64)), nn.Tanh(), layer_init(nn.Linear(64, 64)),
                                    nn.Tanh(), layer_init(nn.Linear(64, 1), std=1.0))
        self.actor = nn.Sequential(layer_init(nn.Linear(obs_dim, 64)), nn.Tanh(), layer_init(nn.Linear(64, 64)),
                                   nn.Tanh(), layer_init(nn.Linear(64, n_actions), std=0.01))

    def get_value(self, x):
        return self.critic(x)

    def get_action_and_value(self, x, action=None):
        probs = Categorical(logits=self.actor(x))
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action), probs.entropy(), self.critic(x)


def masked_mean(x, m):
    return (x * m).sum() / m.sum()


def update(agent, optimizer, args, b_obs, b_logprobs, b_actions, b_adv, b_ret, b_val, b_valid) -> float:
    """PPO epochs over one batch; steps with ``b_valid == 0`` (NEXT_STEP reset steps) are left out.
    Returns the last minibatch's value loss."""
    batch_size = len(b_obs)
    minibatch_size = batch_size // args.num_minibatches
    b_inds = np.arange(batch_size)
    v_loss_value = float("nan")
    for _ in range(args.update_epochs):
        np.random.shuffle(b_inds)
        for s in range(0, batch_size, minibatch_size):
            mb = b_inds[s:s + minibatch_size]
            m = b_valid[mb]
            if m.sum() == 0:
                continue
            _, newlogprob, entropy, newvalue = agent.get_action_and_value(b_obs[mb], b_actions[mb])
            ratio = (newlogprob - b_logprobs[mb]).exp()
            adv = b_adv[mb]
            sel = m.bool()
            adv = (adv - adv[sel].mean()) / (adv[sel].std() + 1e-8) if sel.sum() > 1 else adv
            pg_loss = torch.max(-adv * ratio, -adv * torch.clamp(ratio, 1 - args.clip_coef, 1 + args.clip_coef))
            newvalue = newvalue.view(-1)
            v_clipped = b_val[mb] + torch.clamp(newvalue - b_val[mb], -args.clip_coef, args.clip_coef)
            v_loss = 0.5 * torch.max((newvalue - b_ret[mb]) ** 2, (v_clipped - b_ret[mb]) ** 2)
            loss = (masked_mean(pg_loss, m) - args.ent_coef * masked_mean(entropy, m)
                    + args.vf_coef * masked_mean(v_loss, m))
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
            optimizer.step()
            v_loss_value = masked_mean(v_loss, m).item()
    return v_loss_value


def main(argv=None) -> list[float]:
    """Train; returns the episodic returns seen (also printed, CleanRL style)."""
    args = parse_args(argv)
    batch_size = args.num_envs * args.num_steps
    num_iterations = max(1, args.total_timesteps // batch_size)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.torch_threads)
    writer = None
    if args.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(args.tensorboard)

    envs = gym.make_vec(args.env_id, num_envs=args.num_envs, vectorization_mode="vector_entry_point",
                        **json.loads(args.env_kwargs))
    envs = gym.wrappers.vector.RecordEpisodeStatistics(envs)
    assert isinstance(envs.single_action_space, gym.spaces.Discrete), "only discrete action spaces are supported"
    obs_dim = int(np.prod(envs.single_observation_space.shape))
    agent = Agent(obs_dim, int(envs.single_action_space.n))
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)

    obs = torch.zeros((args.num_steps, args.num_envs, obs_dim))
    actions = torch.zeros((args.num_steps, args.num_envs), dtype=torch.long)
    logprobs = torch.zeros((args.num_steps, args.num_envs))
    rewards = torch.zeros((args.num_steps, args.num_envs))
    dones = torch.zeros((args.num_steps, args.num_envs))
    valid = torch.zeros((args.num_steps, args.num_envs))  # 0: a NEXT_STEP reset step, not a transition
    values = torch.zeros((args.num_steps, args.num_envs))

    def flat(o):
        return torch.as_tensor(np.asarray(o, dtype=np.float32).reshape(args.num_envs, -1))

    global_step, start, returns = 0, time.time(), []
    next_obs, _ = envs.reset(seed=args.seed)
    next_obs = flat(next_obs)
    next_done = torch.zeros(args.num_envs)   # the previous step ended an episode
    for iteration in range(1, num_iterations + 1):
        if args.anneal_lr:
            optimizer.param_groups[0]["lr"] = (1.0 - (iteration - 1.0) / num_iterations) * args.learning_rate
        for step in range(args.num_steps):
            global_step += args.num_envs
            obs[step] = next_obs
            valid[step] = 1.0 - next_done
            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(next_obs)
                values[step] = value.flatten()
            actions[step], logprobs[step] = action, logprob
            o, reward, terminations, truncations, infos = envs.step(action.numpy())
            done = np.logical_or(terminations, truncations)
            rewards[step] = torch.as_tensor(reward, dtype=torch.float32)
            dones[step] = torch.as_tensor(done, dtype=torch.float32)
            next_obs, next_done = flat(o), torch.as_tensor(done, dtype=torch.float32)
            if "_episode" in infos:
                for i in np.flatnonzero(infos["_episode"]):
                    ret, length = float(infos["episode"]["r"][i]), int(infos["episode"]["l"][i])
                    returns.append(ret)
                    print(f"global_step={global_step}, episodic_return={ret:.4f}, episodic_length={length}",
                          flush=True)
                    if writer is not None:
                        writer.add_scalar("charts/episodic_return", ret, global_step)
                        writer.add_scalar("charts/episodic_length", length, global_step)

        with torch.no_grad():  # GAE; no bootstrap from a step that ended its episode
            next_value = agent.get_value(next_obs).reshape(1, -1)
            advantages = torch.zeros_like(rewards)
            lastgaelam = torch.zeros(args.num_envs)
            for t in reversed(range(args.num_steps)):
                nextvalues = next_value if t == args.num_steps - 1 else values[t + 1]
                nextnonterminal = 1.0 - dones[t]
                delta = rewards[t] + args.gamma * nextvalues * nextnonterminal - values[t]
                lastgaelam = delta + args.gamma * args.gae_lambda * nextnonterminal * lastgaelam
                advantages[t] = lastgaelam
            returns_t = advantages + values

        v_loss = update(agent, optimizer, args, obs.reshape(batch_size, -1), logprobs.reshape(-1),
                        actions.reshape(-1), advantages.reshape(-1), returns_t.reshape(-1), values.reshape(-1),
                        valid.reshape(-1))
        sps = int(global_step / max(time.time() - start, 1e-9))
        print(f"iteration={iteration}/{num_iterations}, SPS={sps}", flush=True)
        if writer is not None:
            writer.add_scalar("charts/SPS", sps, global_step)
            writer.add_scalar("losses/value_loss", v_loss, global_step)
    envs.close()
    if writer is not None:
        writer.close()
    return returns


if __name__ == "__main__":
    main()
