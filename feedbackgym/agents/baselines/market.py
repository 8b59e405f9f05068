"""The circuit-breaker rules in force as baseline policies of the regulator env.

Each policy wraps one rule of :mod:`feedbackgym.envs.market.breakers` and feeds it, every step,
what an exchange sees — the step's ``info`` without the fundamental value and the seller's
state. The rule's session (pause and halt lengths, time of day) comes from the reset ``info``.
"""

from __future__ import annotations

from ...envs.market.breakers import make_breaker
from ...envs.market.episode import exchange_view

__all__ = ["BreakerPolicy", "pretrain_from_rule"]


class BreakerPolicy:
    """Regulator policy of one circuit-breaker rule (``rule``: none, stop_logic, dynamic_cb, luld,
    mwcb; other kwargs go to the rule)."""

    def __init__(self, rule: str = "none", **rule_kwargs):
        self.rule_name = rule
        self.rule_kwargs = dict(rule_kwargs)
        self.rule = make_breaker(rule, **rule_kwargs)

    def reset(self, env, obs, info) -> None:
        self.rule.reset({"pause_s": info.get("pause_s"), "halt_s": info.get("halt_s"),
                         "day_offset_s": info.get("session_offset_s"), "day_length_s": info.get("session_length_s")})

    def act(self, obs, info) -> int:
        return self.rule.decide(exchange_view(info))

    def end_episode(self, obs, info) -> None:
        return None

    def __repr__(self) -> str:
        kw = "".join(f", {k}={v!r}" for k, v in self.rule_kwargs.items())
        return f"BreakerPolicy(rule={self.rule_name!r}{kw})"


def pretrain_from_rule(model, env_id: str, env_kwargs: dict | None = None, rule: str = "stop_logic_liquidity",
                       rule_kwargs: dict | None = None, **kwargs) -> dict:
    """Behaviour cloning (:func:`feedbackgym.agents.imitation.pretrain`) of any rule of
    :mod:`feedbackgym.envs.market.breakers` — also one that is not a baseline of the family, such
    as the liquidity-gated Stop Logic teacher. For the hyperparameters' ``pretrain`` block:
    ``fn: "feedbackgym.agents.baselines.market:pretrain_from_rule"``, ``rule: NAME``,
    ``rule_kwargs: {...}``; the other keys go to ``imitation.pretrain``.

    ``imitation.pretrain`` builds its expert with ``make_baseline(env_id, name)``; for the
    duration of the call that lookup answers ``rule`` with this rule's :class:`BreakerPolicy`.
    """
    from .. import imitation

    make_breaker(rule, **dict(rule_kwargs or {}))   # an unknown rule or bad kwargs fail here
    expert = f"rule:{rule}"
    original = imitation.make_baseline

    def make(env_id: str, name: str, **kwargs):   # make_baseline's signature
        if name == expert:
            return BreakerPolicy(rule, **dict(rule_kwargs or {}))
        return original(env_id, name, **kwargs)

    imitation.make_baseline = make
    try:
        return imitation.pretrain(model, env_id, env_kwargs, baseline=expert, **kwargs)
    finally:
        imitation.make_baseline = original
