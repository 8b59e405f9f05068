"""Configurations of the market-maker and execution envs (``FlashCrashMarketMaker-v0``,
``FlashCrashExecution-v0``): frozen dataclasses, every field JSON-safe and validated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...config import number, one_of, param, validate
from .config import _market, _reward, _scenario_mix
from .sim import SCENARIOS, scenario_params


def _role_market(name, v):
    v = _market(name, v)
    if "length_s" in v:
        raise ValueError(f"{name}: set the episode length with 'episode_s' (maker) or 'horizon_s' (execution), "
                         "not market.length_s")
    return v


@dataclass(frozen=True)
class MakerConfig:
    """Every knob of the market-maker env. Defaults: the first 40 minutes of the flash-crash hour
    (the seller starts at 15 min), quotes revised every 5 s, a 50-contract inventory cap."""

    scenario: str = param("flash_crash", "market scenario (calm, flash_crash, news, mini_crash)", one_of(*SCENARIOS))
    market: Any = param({}, "overrides of the scenario's MarketParams fields (see "
                        "feedbackgym.envs.market.sim.MarketParams; the length is episode_s)", _role_market)
    scenario_mix: Any = param(None, "null, or scenarios to draw one of per episode (training over regimes; "
                              "overrides 'scenario')", _scenario_mix)
    episode_s: int = param(2400, "episode length, simulated seconds (the market's length_s)",
                           number(60, 23400, integer=True))
    decision_s: int = param(5, "simulated seconds per env step; the quotes hold (re-centred on the mid every "
                            "second) until the next step", number(1, 600, integer=True))
    inventory_cap: int = param(50, "the agent's inventory cap, contracts: quotes never let |inventory| pass it",
                               number(1, 100_000, integer=True))
    quote_size: int = param(5, "contracts per quote side", number(1, 10_000, integer=True))
    dump_size: int = param(20, "contracts the 'dump' action sells (buys) at market towards a flat position",
                           number(1, 100_000, integer=True))
    stress_s: int = param(900, "length of the stress window after the shock (the seller's start or the news), s",
                          number(1, 10**6, integer=True))
    reward: Any = param("maker_quadratic", "maker_quadratic, maker_cara, maker_pnl, maker_stable, maker_sharpe, a "
                        "weights dict over reward components, 'module:function', or a callable", _reward)

    def __post_init__(self):
        validate(self)
        for scenario in self.scenario_mix or (self.scenario,):
            try:
                self.params(scenario)
            except ValueError as e:
                raise ValueError(f"MakerConfig.market: {e}") from None

    def params(self, scenario: str | None = None):
        """The :class:`MarketParams` of ``scenario`` (default: the configured one)."""
        return scenario_params(scenario or self.scenario, **{**self.market, "length_s": self.episode_s})

    @staticmethod
    def evaluation_overrides() -> dict:
        """The test protocol: one scenario at a time."""
        return {"scenario_mix": None}


@dataclass(frozen=True)
class ExecutionConfig:
    """Every knob of the execution env. Defaults: sell 9,000 contracts (the flash-crash program of
    the scenario) within 40 minutes, starting after 5 calm minutes, one decision every 10 s."""

    scenario: str = param("flash_crash", "market scenario (calm, flash_crash, news, mini_crash); the agent is "
                          "the scenario's large seller (on calm and news days a seller of parent_size is added)",
                          one_of(*SCENARIOS))
    market: Any = param({}, "overrides of the scenario's MarketParams fields (see "
                        "feedbackgym.envs.market.sim.MarketParams; length and seller are set by the fields below)",
                        _role_market)
    scenario_mix: Any = param(None, "null, or scenarios to draw one of per episode (training over regimes; "
                              "overrides 'scenario')", _scenario_mix)
    parent_size: int = param(9000, "contracts to sell (the parent order)", number(1, 10**6, integer=True))
    start_s: int = param(300, "second at which the parent order arrives (the market runs from 0)",
                         number(1, 10**5, integer=True))
    horizon_s: int = param(2400, "deadline: seconds from the arrival by which the order should be done",
                           number(10, 10**5, integer=True))
    decision_s: int = param(10, "simulated seconds per env step", number(1, 600, integer=True))
    reward: Any = param("exec_balanced", "exec_balanced, exec_shortfall, exec_stable, a weights dict over reward "
                        "components, 'module:function', or a callable", _reward)

    def __post_init__(self):
        validate(self)
        if self.horizon_s % self.decision_s:
            raise ValueError(f"ExecutionConfig.horizon_s: expected a multiple of decision_s ({self.decision_s}), "
                             f"got {self.horizon_s}")
        for scenario in self.scenario_mix or (self.scenario,):
            try:
                self.params(scenario)
            except ValueError as e:
                raise ValueError(f"ExecutionConfig.market: {e}") from None

    def params(self, scenario: str | None = None):
        """The :class:`MarketParams` of ``scenario`` with the agent's parent order as its seller."""
        return scenario_params(scenario or self.scenario, **{
            **self.market, "length_s": self.start_s + self.horizon_s,
            "seller_size": self.parent_size, "seller_start_s": self.start_s})

    @staticmethod
    def evaluation_overrides() -> dict:
        return {"scenario_mix": None}
