"""Registers every env id the suite ships, from the family declarations.

Importing :mod:`feedbackgym` runs :func:`register_envs`, so ``gym.make("feedbackgym:feedbackgym/<Name>-v0")``
works in any fresh process (Gymnasium imports the module before the ``:``), including
``SubprocVecEnv`` children started with spawn or forkserver and RLlib env runners. Each family
module holds one :class:`feedbackgym.family.Family`, listed in ``feedbackgym.envs.FAMILIES``; a
user's own family registers itself with :func:`feedbackgym.family.register_family` from its own
package.
"""

from __future__ import annotations

from . import family as _family

NAMESPACE = "feedbackgym"



def register_envs() -> None:
    """Declare every shipped family (``feedbackgym.envs.FAMILIES``) and register its ids with
    Gymnasium; safe to call again."""
    from .envs import FAMILIES

    for target in FAMILIES:
        _family.register_family(_family.load(target))


def env_ids() -> list[str]:
    """Every declared env id (the suite's and any user family registered in this process)."""
    return _family.env_ids()


def describe(env_id: str) -> str:
    """One-line description of an env id."""
    return _family.spec(env_id).description


def config_class(env_id: str) -> type:
    """The config dataclass of an env id, without building an env."""
    return _family.config_class(env_id)


def family_name(env_id: str) -> str:
    """The family an env id belongs to."""
    return _family.spec(env_id).family
