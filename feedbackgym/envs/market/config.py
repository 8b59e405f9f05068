"""Configuration of the flash-crash regulator env (``feedbackgym/FlashCrashRegulator-v0``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...config import boolean, interval, number, one_of, param, validate
from .sim import SCENARIOS, scenario_params


def _market(name, v):
    if not isinstance(v, dict):
        raise ValueError(f"{name}: expected a dict of MarketParams overrides (e.g. {{'seller_size': 8000}}), got {v!r}")
    if "scenario" in v:
        raise ValueError(f"{name}: set the scenario with the 'scenario' field, not inside 'market'")
    return dict(v)


def _scenario_mix(name, v):
    if v is None:
        return None
    if (not isinstance(v, (list, tuple)) or not v or not all(isinstance(x, str) for x in v)
            or any(x not in SCENARIOS for x in v)):
        raise ValueError(f"{name}: expected null or a non-empty list of scenarios from {list(SCENARIOS)}, got {v!r}")
    return tuple(v)


def _horizons(name, v):
    if (not isinstance(v, (list, tuple)) or not v
            or not all(isinstance(x, int) and not isinstance(x, bool) and 1 <= x <= 3600 for x in v)
            or list(v) != sorted(set(v))):
        raise ValueError(f"{name}: expected a non-empty increasing list of integer seconds in [1, 3600], got {v!r}")
    return tuple(v)


def _reward(name, v):
    if not (isinstance(v, (str, dict)) or callable(v)):
        raise ValueError(f"{name}: expected a reward name, weights dict, 'module:function' or callable, got {v!r}")
    return v


@dataclass(frozen=True)
class MarketConfig:
    """Every knob of the regulator env. Defaults: a flash-crash hour, decisions every second,
    the balanced reward. The market itself is :class:`~feedbackgym.envs.market.sim.MarketParams`:
    ``scenario`` picks its preset and ``market`` overrides any of its fields."""

    scenario: str = param("flash_crash", "market scenario: calm (a 6.5-hour day), flash_crash, news or mini_crash "
                          "(an hour around the shock)", one_of(*SCENARIOS))
    market: Any = param({}, "overrides of the scenario's MarketParams fields (seller_size, maker_inventory_cap, "
                        "length_s, ...; see feedbackgym.envs.market.sim.MarketParams)", _market)
    scenario_mix: Any = param(None, "null, or scenarios to draw one of per episode (training over regimes; "
                              "overrides 'scenario')", _scenario_mix)
    seller_size_range: Any = param(None, "null, or [low, high] contracts: each episode with a seller draws its size "
                                   "uniformly (training over seller sizes)", interval(1.0, 1e7, allow_none=True))
    news_drop_range: Any = param(None, "null, or [low, high] percent: each news episode draws the fundamental drop "
                                 "uniformly", interval(-100.0, 100.0, allow_none=True))
    decision_s: int = param(1, "simulated seconds per env step; the action applies at the first of them",
                            number(1, 3600, integer=True))
    horizons_s: Any = param([5, 30, 120, 600], "look-back horizons of the return / volume / order-imbalance "
                            "features, seconds", _horizons)
    liquidity_features: bool = param(False, "append four liquidity-crash features to the observation "
                                     "(return_prior, maker_share_60s, maker_inventory, depth_vs_normal): "
                                     "n = 54 instead of 50", boolean)
    stress_s: int = param(900, "length of the stress window after the shock for the episode metrics, s",
                          number(1, 10**6, integer=True))
    reward: Any = param("market_balanced", "market_balanced, market_price, market_liquidity, a weights dict over "
                        "reward components, 'module:function', or a callable", _reward)

    def __post_init__(self):
        validate(self)
        for scenario in self.scenario_mix or (self.scenario,):
            try:
                scenario_params(scenario, **self.market)
            except ValueError as e:
                raise ValueError(f"MarketConfig.market: {e}") from None

    def params(self, scenario: str | None = None, **draws):
        """The :class:`MarketParams` of ``scenario`` (default: the configured one) with the
        ``market`` overrides and the per-episode ``draws`` applied."""
        return scenario_params(scenario or self.scenario, **{**self.market, **draws})

    @staticmethod
    def evaluation_overrides() -> dict:
        """The test protocol: one scenario at a time, no random seller sizes or news drops."""
        return {"scenario_mix": None, "seller_size_range": None, "news_drop_range": None}
