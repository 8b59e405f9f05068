"""Rewards imported by 'module:function' string in the tests, and non-rewards the registry must refuse."""

from json import dumps  # noqa: F401  (re-exported: resolving it must fail)
from os import system  # noqa: F401  (a builtin, not a reward function)

BITRATE_ONLY = {"bitrate_mbps": 1.0}
NOT_A_REWARD = "a string"


def bitrate_minus_10_rebuffer(c):
    return c["bitrate_mbps"] - 10.0 * c["rebuffer_s"]


def two_args(c, d):
    return 0.0


def _private(c):
    return 0.0


class TwoArgs:
    def __init__(self, c):
        pass
