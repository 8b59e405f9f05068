"""Pluggable rewards: registry plus the presets of each domain."""

from .registry import (TRUST_ENV, LinearReward, RewardFn, linear, list_rewards, register_reward, resolve,
                       trust_reward_modules, trusted_reward_modules, untrust_reward_modules)
from . import abr  # noqa: F401  (registers the ABR presets)

__all__ = ["TRUST_ENV", "LinearReward", "RewardFn", "linear", "list_rewards", "register_reward", "resolve",
           "trust_reward_modules", "trusted_reward_modules", "untrust_reward_modules"]
