"""Adaptive bitrate streaming (Pensieve's simulator, exact and fixed modes)."""

from .config import AbrConfig
from .env import AbrStreamingEnv

__all__ = ["AbrConfig", "AbrStreamingEnv"]
