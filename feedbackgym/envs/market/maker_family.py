"""The market-maker role's declaration (``feedbackgym/FlashCrashMarketMaker-v0``): a family of
its own because its metrics, baselines and reward presets are a maker's, not an exchange's.
See :mod:`feedbackgym.family`."""

from __future__ import annotations

from ...family import EnvSpec, Family, Metric
from .family import ScenarioSeeds
from .roles_episode import MAKER_COMPONENTS

_B = "feedbackgym.agents.baselines.market_roles"
_PNL = {"spread_pnl": 1.0, "inventory_pnl": 1.0}

FAMILY = Family(
    name="market_maker",
    description="a market maker quoting through the flash crash (the market family's maker role)",
    protocol={"scenario_mix": None},
    episode_plan=ScenarioSeeds("scenario", ("calm", "flash_crash"), seeds=5),
    metrics=(
        Metric("sharpe", doc="per-minute PnL mean / sd within the episode (not annualised)", higher_is_better=True),
        Metric("pnl", doc="mark-to-market PnL at the end, currency", higher_is_better=True),
        Metric("spread_pnl", doc="trading gains at the mid (spread earned, dumps paid), currency"),
        Metric("inventory_pnl", doc="inventory revaluation, currency"),
        Metric("max_abs_inventory", doc="largest abs(inventory), contracts", higher_is_better=False),
        Metric("mean_abs_inventory", doc="time-mean abs(inventory), contracts", higher_is_better=False),
        Metric("time_at_cap_frac", doc="fraction of seconds with abs(inventory) >= 90 % of the cap",
               higher_is_better=False),
        Metric("agent_volume", doc="contracts the agent traded"),
        Metric("volume_share", doc="agent contracts / market contracts"),
        Metric("two_sided_frac", doc="fraction of seconds with both quotes resting", higher_is_better=True),
        Metric("two_sided_frac_stress", doc="the same in the stress window after the shock (placebo on calm days)",
               higher_is_better=True),
        Metric("net_bought_stress", doc="contracts bought net in the stress window (absorbing the sale > 0)"),
        Metric("pnl_stress", doc="PnL made in the stress window, currency"),
        Metric("dumped_contracts", doc="contracts sold / bought with the dump action"),
        Metric("market_drawdown_pct", doc="market's fall from the mid at the shock to its low, %"),
    ),
    headline="sharpe",
    table_columns=("pnl", "time_at_cap_frac", "max_abs_inventory", "volume_share", "two_sided_frac_stress",
                   "net_bought_stress"),
    baselines={
        "fixed_spread": (f"{_B}:FixedSpreadMaker", {"half_ticks": 2.0}, "quote 2 ticks around the mid, no skew"),
        "avellaneda_stoikov": (f"{_B}:AvellanedaStoikovMaker", {},
                               "Avellaneda-Stoikov closed form (reservation price, optimal spread)"),
        "avellaneda_stoikov_guarded": (f"{_B}:GuardedAvellanedaStoikovMaker", {},
                                       "Avellaneda-Stoikov that dumps to flat and pulls while the 1-s mid sd "
                                       "exceeds 3 ticks"),
        "stressed_maker": (f"{_B}:StressedMakerRule", {},
                           "the scenario's own rule makers: widen with the move, skew, pull, dump beyond 70 % of cap"),
    },
    reward_components=MAKER_COMPONENTS,
    reward_presets={
        "maker_quadratic": ({**_PNL, "inventory_sq": -0.5, "at_cap_s": -0.5},
                            "PnL - 0.5 (inventory / cap)^2 per s - 0.5 per s at the cap"),
        "maker_cara": ({**_PNL, "inventory_risk": -0.0005},
                       "PnL - (0.001 / 2) x realised variance of the inventory's value (mean-variance, CARA-style)"),
        "maker_pnl": (dict(_PNL), "mark-to-market PnL only"),
        "maker_stable": ({**_PNL, "inventory_sq": -0.5, "at_cap_s": -0.5, "two_sided_s": 0.1},
                         "maker_quadratic + 0.1 per second of two-sided quotes (liquidity provision)"),
        "maker_sharpe": ({**_PNL, "inventory_risk": -0.002, "inventory_sq": -1.0, "at_cap_s": -2.0},
                         "risk-adjusted PnL for the Sharpe target: PnL - 0.002 (inventory x mid change)^2 - "
                         "(inventory / cap)^2 - 2 per s at the cap (4x maker_cara's risk aversion, 4x "
                         "maker_quadratic's cap penalty; train with reward normalisation)"),
    },
    # Registry-wide tests: a 200-second market with the seller after one minute.
    test_kwargs={"episode_s": 200, "market": {"seller_start_s": 60}, "stress_s": 100},
    envs=[
        EnvSpec("feedbackgym/FlashCrashMarketMaker-v0",
                entry_point="feedbackgym.envs.market.maker_env:FlashCrashMarketMakerEnv",
                vector_entry_point="feedbackgym.envs.market.roles_vector:FlashCrashMarketMakerVectorEnv",
                config_class="feedbackgym.envs.market.roles_config:MakerConfig",
                description="A market maker quoting (half-spread, skew, pull, dump) in a limit-order-book "
                            "market that can flash-crash"),
    ],
)
