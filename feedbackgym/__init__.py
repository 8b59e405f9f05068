"""feedbackgym: Gymnasium environments for adaptive systems caught in feedback loops."""

__version__ = "0.1.0"

from .registration import register_envs as _register_envs

_register_envs()
