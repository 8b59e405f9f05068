"""The circuit-breaker rules in force as baseline policies of the regulator env.

Each policy wraps one rule of :mod:`feedbackgym.envs.market.breakers` and feeds it, every step,
what an exchange sees — the step's ``info`` without the fundamental value and the seller's
state. The rule's session (pause and halt lengths, time of day) comes from the reset ``info``.
"""

from __future__ import annotations

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

    ``imitation.pretrain`` builds its expert with ``make_baseline(env_id, name)``; for the
    duration of the call that lookup answers ``rule`` with this rule's :class:`BreakerPolicy`.

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
    expert = f"rule:{rule}"
    original = imitation.make_baseline

    def make(env_id: str, name: str, **kwargs):   # make_baseline's signature
        if name == expert:
            return BreakerPolicy(rule, **dict(rule_kwargs or {}))
        return original(env_id, name, **kwargs)

    weight = intervention_weight
    if isinstance(weight, bool) or not isinstance(weight, int) or weight < 1:
        raise ValueError(f"pretrain_from_rule: intervention_weight must be an integer >= 1, got {weight!r}")
    dqn = hasattr(model, "q_net") and hasattr(model, "q_net_target")   # imitation._kind's test
    if weight != 1 and not dqn:
        raise ValueError("pretrain_from_rule: intervention_weight is for DQN's cloning only")

    imitation.make_baseline = make
    if not dqn:
        try:
            return imitation.pretrain(model, env_id, env_kwargs, baseline=expert, **kwargs)
        finally:
            imitation.make_baseline = original
    return _pretrain_dqn(model, env_id, env_kwargs, expert, weight, original, kwargs)


def _pretrain_dqn(model, env_id, env_kwargs, expert: str, weight: int, original_make, kwargs: dict) -> dict:
    """DQN's path of :func:`pretrain_from_rule`: ``imitation.pretrain`` with the intervention
    states repeated ``weight`` times in each fit, and the clone's recall of the interventions
    measured on the training and held-out expert states."""
    import numpy as np

    from .. import imitation

    fit_original, accuracy_original = imitation._fit, imitation._accuracy
    recalls: list[tuple[float, float]] = []

    def fit(model, kind, obs, actions, returns, has_return, epochs, **fit_kwargs):
        if weight > 1:
            rare = np.flatnonzero(actions != CONTINUE)
            idx = np.concatenate([np.arange(len(actions)), np.repeat(rare, weight - 1)])
            obs, actions, returns, has_return = obs[idx], actions[idx], returns[idx], has_return[idx]
        return fit_original(model, kind, obs, actions, returns, has_return, epochs, **fit_kwargs)

    def accuracy(model, kind, obs, actions, batch: int = 4096) -> float:
        recalls.append(_intervention_recall(model, obs, actions, batch))
        return accuracy_original(model, kind, obs, actions, batch)

    imitation._fit, imitation._accuracy = fit, accuracy   # type: ignore[assignment]
    try:
        stats = imitation.pretrain(model, env_id, env_kwargs, baseline=expert, **kwargs)
    finally:
        imitation._fit, imitation._accuracy = fit_original, accuracy_original
        imitation.make_baseline = original_make
    # _accuracy runs twice per round (training states, then held-out ones): the last round's pair
    (recall, false), (h_recall, h_false) = recalls[-2], recalls[-1]
    stats.update(intervention_weight=weight, intervention_recall=recall, false_intervention_rate=false,
                 holdout_intervention_recall=h_recall, holdout_false_intervention_rate=h_false)
    logger = getattr(model, "_logger", None)
    if logger is not None:
        logger.record("pretrain/intervention_recall", recall)
        logger.record("pretrain/holdout_intervention_recall", h_recall)
    return stats


def _intervention_recall(model, obs, actions, batch: int) -> tuple[float, float]:
    """(share of the expert's interventions the greedy clone repeats, share of the expert's
    ``CONTINUE`` states where the clone intervenes)."""
    import numpy as np
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
