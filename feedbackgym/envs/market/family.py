"""The market family's declaration: what generic code (evaluate, compare, train, bench, the CLI
and the registry-wide tests) knows about ``feedbackgym/FlashCrashRegulator-v0``. See
:mod:`feedbackgym.family`."""

from __future__ import annotations

from dataclasses import dataclass

from ...family import ConfigGrid, EnvSpec, Family, Metric, PlannedEpisode
from .metrics import COMPOSITE_WEIGHTS

_BASE = "feedbackgym.agents.baselines.market:BreakerPolicy"

#: the test protocol's scenarios (a calm 6.5-hour day is the realism gate, reported separately)
TEST_SCENARIOS = ("flash_crash", "mini_crash", "news")



@dataclass(frozen=True)
class ScenarioSeeds(ConfigGrid):
    """Every scenario x ``seeds`` seeded episodes (held-out seeds: pass ``--seed``), interleaved
    seed by seed; ``--episodes N`` plays the first N of that order (N episodes in all, every
    scenario as evenly as N allows), unlike :class:`ConfigGrid`, where N caps the seeds per value."""

    def __call__(self, env, episodes, seed):
        values = self.values if self.values is not None else (getattr(env.unwrapped.config, self.field),)
        out = [PlannedEpisode(seed + i, {"config": {self.field: v}}, f"{v}/seed {seed + i}")
               for i in range(self.seeds if episodes is None else episodes) for v in values]
        return out if episodes is None else out[:episodes]


_LOSS_DOC = {
    "dislocation_pct": "abs(mid - fundamental) / fundamental, percent, per second",
    "spread_excess_ticks": "spread beyond one tick (empty side: 100), per second",
    "halted_s": "seconds of pause or halt",
    "lost_fundamental_volume": "fundamental volume a halted second would have traded, contracts",
    "magnet_pct": "fall below the reopening price within 2 min of a reopening, percent, per second",
}

FAMILY = Family(
    name="market",
    description="limit-order-book market with circuit breakers (the 6 May 2010 Flash Crash)",
    # The test protocol: one scenario at a time, fixed seller sizes and news drops.
    protocol={"scenario_mix": None, "seller_size_range": None, "news_drop_range": None},
    episode_plan=ScenarioSeeds("scenario", TEST_SCENARIOS, seeds=5),
    metrics=(
        Metric("composite_loss", doc="mean per-second loss (dislocation + spread + halts + lost volume + magnet)",
               higher_is_better=False),
        Metric("max_drawdown_pct", doc="largest fall below the pre-shock mid, %", higher_is_better=False),
        Metric("time_to_trough_s", doc="seconds from the shock to the trough"),
        Metric("retrace_50_s", doc="seconds from the trough to 50 % retracement (censored at the end)",
               higher_is_better=False),
        Metric("retrace_90_s", doc="seconds from the trough to 90 % retracement (censored at the end)",
               higher_is_better=False),
        Metric("retraced_50", doc="fraction of episodes that retraced 50 %", higher_is_better=True),
        Metric("halted_s", doc="seconds halted per episode", higher_is_better=False),
        Metric("n_halts", doc="halts per episode", higher_is_better=False),
        Metric("spread_calm_ticks", doc="time-weighted spread before the shock, ticks", higher_is_better=False),
        Metric("spread_stress_ticks", doc="time-weighted spread in the 15 min after the shock, ticks",
               higher_is_better=False),
        Metric("depth_trough_frac", doc="bid depth near the mid at the trough / pre-shock", higher_is_better=True),
        Metric("min_depth_frac", doc="lowest bid depth near the mid after the shock / pre-shock",
               higher_is_better=True),
        Metric("maker_volume_share", doc="market makers' share of trade sides after the shock"),
        Metric("hot_potato_ratio", doc="makers' gross volume / abs(net inventory change) after the shock"),
        Metric("seller_completion_s", doc="seconds the seller needed (censored at the end)"),
        Metric("seller_shortfall_bps", doc="seller's implementation shortfall vs the pre-shock mid, bps"),
        Metric("mean_dislocation_pct", doc="mean abs(mid - fundamental) / fundamental, %", higher_is_better=False),
    ),
    headline="composite_loss",
    table_columns=("max_drawdown_pct", "retrace_50_s", "halted_s", "n_halts", "spread_stress_ticks",
                   "min_depth_frac", "mean_dislocation_pct"),
    baselines={
        "none": (_BASE, {"rule": "none"}, "no circuit breaker"),
        "stop_logic": (_BASE, {"rule": "stop_logic"}, "CME Stop Logic: a 1.5 % move within 15 s -> 5-s reserved state"),
        "dynamic_cb": (_BASE, {"rule": "dynamic_cb"}, "CME dynamic circuit breaker: 3.5 % within 60 min -> 2-min halt"),
        "luld": (_BASE, {"rule": "luld"}, "Limit Up-Limit Down: 5 % bands, 15-s limit state -> 5-min pause"),
        "mwcb": (_BASE, {"rule": "mwcb"}, "market-wide breaker: 7 / 13 % -> 15-min halt, 20 % -> closed"),
    },
    reward_components=_LOSS_DOC,
    reward_presets={
        "market_balanced": ({k: -w for k, w in COMPOSITE_WEIGHTS.items()},
                            "minus the composite loss: dislocation % + 0.01 x excess spread ticks + halted s "
                            "+ 0.01 x lost fundamental contracts + magnet %"),
        "market_price": ({"dislocation_pct": -1.0, "magnet_pct": -1.0, "halted_s": -0.1},
                         "price quality first: dislocation % + magnet % + 0.1 x halted s"),
        "market_liquidity": ({"dislocation_pct": -1.0, "spread_excess_ticks": -0.05, "halted_s": -3.0,
                              "lost_fundamental_volume": -0.05, "magnet_pct": -1.0},
                             "trading access first: heavier spread, halt and lost-volume terms"),
    },
    # Registry-wide tests: a 200-second market with the seller (or the news) after one minute.
    test_kwargs={"market": {"length_s": 200, "seller_start_s": 60}, "stress_s": 100},
    test_variants=({}, {"scenario": "news", "decision_s": 5, "news_drop_range": [1.0, 6.0]},
                   {"scenario_mix": ["flash_crash", "news", "calm"], "seller_size_range": [1000, 8000]}),
    envs=[
        EnvSpec("feedbackgym/FlashCrashRegulator-v0",
                entry_point="feedbackgym.envs.market.env:FlashCrashRegulatorEnv",
                vector_entry_point="feedbackgym.envs.market.vector:FlashCrashRegulatorVectorEnv",
                config_class="feedbackgym.envs.market.config:MarketConfig",
                multi_agent="feedbackgym.envs.market.multiagent:parallel_env",
                description="The exchange's circuit breaker in a limit-order-book market that can flash-crash "
                            "(continue / pause / halt / widen / tighten bands)"),
    ],
)
