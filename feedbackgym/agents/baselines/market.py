"""The circuit-breaker rules in force as baseline policies of the regulator env.

Each policy wraps one rule of :mod:`feedbackgym.envs.market.breakers` and feeds it, every step,
what an exchange sees — the step's ``info`` without the fundamental value and the seller's
state. The rule's session (pause and halt lengths, time of day) comes from the reset ``info``.
"""

from __future__ import annotations

from ...envs.market.breakers import make_breaker
from ...envs.market.episode import exchange_view

__all__ = ["BreakerPolicy"]


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
