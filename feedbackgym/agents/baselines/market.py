"""The circuit-breaker rules in force as baseline policies of the regulator env.

Each policy wraps one rule of :mod:`feedbackgym.envs.market.breakers` and feeds it, every step,
what an exchange sees — the step's ``info`` without the fundamental value and the seller's
state. The rule's session (pause and halt lengths, time of day) comes from the reset ``info``.
"""

from __future__ import annotations

import numpy as np

from ...envs.market.breakers import CONTINUE, make_breaker
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
                       rule_kwargs: dict | None = None, intervention_weight: int = 1, **kwargs) -> dict:
    """Behaviour cloning (:func:`feedbackgym.agents.imitation.pretrain`) of any rule of
    :mod:`feedbackgym.envs.market.breakers` — also one that is not a baseline of the family, such
    as the liquidity-gated Stop Logic teacher. For the hyperparameters' ``pretrain`` block:
    ``fn: "feedbackgym.agents.baselines.market:pretrain_from_rule"``, ``rule: NAME``,
    ``rule_kwargs: {...}``; the other keys go to ``imitation.pretrain``.

    The rule's :class:`BreakerPolicy` is ``imitation.pretrain``'s ``expert`` (named ``rule:NAME``
    in the statistics).

    ``intervention_weight`` (DQN only, default 1: plain cloning): every recorded state where the
    rule intervened (any action but ``CONTINUE``) enters the fit that many times. A rule
    intervenes on a few decisions in a thousand (``stop_logic_liquidity``: 118 pauses in 38,880
    decisions of the regulator recipe's 54 training episodes); DQN's large-margin loss then fits
    "continue" everywhere (99.7 % accuracy, none of the pauses recalled: the clone never
    intervenes), while oversampled the clone pauses where its teacher did. For DQN the statistics
    gain ``intervention_recall`` / ``holdout_intervention_recall`` (the greedy clone repeats the
    rule's intervention) and ``false_intervention_rate`` / ``holdout_false_intervention_rate`` (it
    intervenes where the rule continued), whatever the weight.
    """
    from .. import imitation

    make_breaker(rule, **dict(rule_kwargs or {}))   # an unknown rule or bad kwargs fail here
    weight = intervention_weight
    if isinstance(weight, bool) or not isinstance(weight, int) or weight < 1:
        raise ValueError(f"pretrain_from_rule: intervention_weight must be an integer >= 1, got {weight!r}")
    if not (hasattr(model, "q_net") and hasattr(model, "q_net_target")):   # imitation._kind's test
        if weight != 1:
            raise ValueError("pretrain_from_rule: intervention_weight is for DQN's cloning only")
        return imitation.pretrain(model, env_id, env_kwargs, baseline=f"rule:{rule}",
                                  expert=BreakerPolicy(rule, **dict(rule_kwargs or {})), **kwargs)

    def repeat(actions):
        """Every intervention state ``weight`` times in the fit."""
        return np.where(actions != CONTINUE, weight, 1)

    def recall(model, obs, actions) -> dict:
        r, false = _intervention_recall(model, obs, actions)
        return {"intervention_recall": r, "false_intervention_rate": false}

    stats = imitation.pretrain(model, env_id, env_kwargs, baseline=f"rule:{rule}",
                               expert=BreakerPolicy(rule, **dict(rule_kwargs or {})),
                               sample_repeat=repeat if weight > 1 else None, round_stats=recall, **kwargs)
    stats["intervention_weight"] = weight
    logger = getattr(model, "_logger", None)
    if logger is not None:
        logger.record("pretrain/intervention_recall", stats["intervention_recall"])
        logger.record("pretrain/holdout_intervention_recall", stats["holdout_intervention_recall"])
    return stats


def _intervention_recall(model, obs, actions, batch: int = 4096) -> tuple[float, float]:
    """(share of the expert's interventions the greedy clone repeats, share of the expert's
    ``CONTINUE`` states where the clone intervenes)."""
    import torch as th

    if len(actions) == 0:
        return float("nan"), float("nan")
    with th.no_grad():
        pred = np.concatenate([model.q_net(th.as_tensor(obs[i:i + batch], device=model.policy.device))
                               .argmax(dim=1).cpu().numpy().reshape(-1) for i in range(0, len(actions), batch)])
    rare = actions != CONTINUE
    recall = float(np.mean(pred[rare] == actions[rare])) if rare.any() else float("nan")
    false = float(np.mean(pred[~rare] != CONTINUE)) if (~rare).any() else float("nan")
    return recall, false
