"""Pluggable rewards: registry plus the presets of each domain."""

from .registry import LinearReward, RewardFn, linear, list_rewards, register_reward, resolve
from . import abr  # noqa: F401  (registers the ABR presets)

__all__ = ["LinearReward", "RewardFn", "linear", "list_rewards", "register_reward", "resolve"]
