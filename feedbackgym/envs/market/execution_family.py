"""The execution role's declaration (``feedbackgym/FlashCrashExecution-v0``): a family of its
own because its metrics, baselines and reward presets are a seller's. See
:mod:`feedbackgym.family`."""

from __future__ import annotations

from ...family import EnvSpec, Family, Fraction, Metric
from .family import ScenarioSeeds
from .roles_episode import EXEC_COMPONENTS

_B = "feedbackgym.agents.baselines.market_roles"

FAMILY = Family(
    name="market_execution",
    description="the large seller learning its schedule (the market family's execution role)",
    protocol={"scenario_mix": None},
    episode_plan=ScenarioSeeds("scenario", ("calm", "flash_crash"), seeds=5),
    metrics=(
        Metric("shortfall_total_bps", doc="implementation shortfall of the whole order, bps: unsold contracts "
               "marked at the deadline mid plus 1,000 bps per unsold order", higher_is_better=False),
        Metric("shortfall_bps", doc="shortfall of what was sold vs the arrival mid, bps", higher_is_better=False),
        Metric("completion_frac", doc="fraction of the order sold by the deadline", higher_is_better=True),
        Metric("completed", Fraction(), doc="fraction of episodes with the order done", higher_is_better=True),
        Metric("completion_s", doc="seconds to finish (censored at the horizon)", higher_is_better=False),
        Metric("max_drawdown_pct", doc="market drawdown from the arrival mid (the crash caused), %",
               higher_is_better=False),
        Metric("participation", doc="share of the market's volume while selling"),
        Metric("avg_price_vs_arrival_pct", doc="average sale price vs the arrival mid, %", higher_is_better=True),
    ),
    headline="shortfall_total_bps",
    table_columns=("shortfall_bps", "completion_frac", "completion_s", "max_drawdown_pct", "participation"),
    baselines={
        "twap": (f"{_B}:TWAP", {}, "sell evenly to the deadline (catch-up pace)"),
        "vwap": (f"{_B}:VWAP", {}, "sell with the market's volume at the rate that finishes by the deadline"),
        "pov_9": (f"{_B}:POV", {"rate": 0.09}, "9 % of the trailing minute's volume: the program of 6 May 2010"),
        "almgren_chriss": (f"{_B}:AlmgrenChriss", {}, "Almgren-Chriss schedule, impact fitted on the simulator"),
    },
    reward_components=EXEC_COMPONENTS,
    reward_presets={
        "exec_balanced": ({"shortfall_bps": -0.01, "unfilled_frac": -10.0, "drawdown_pct": -0.5},
                          "-(shortfall bps + 1,000 bps x unsold fraction + 50 bps per % of drawdown) / 100"),
        "exec_shortfall": ({"shortfall_bps": -0.01, "unfilled_frac": -10.0},
                           "-(shortfall bps + 1,000 bps x unsold fraction) / 100"),
        "exec_stable": ({"shortfall_bps": -0.01, "unfilled_frac": -10.0, "drawdown_pct": -2.0},
                        "exec_balanced with 200 bps per % of drawdown"),
    },
    # Registry-wide tests: 1,000 contracts in 2 minutes after one calm minute.
    test_kwargs={"start_s": 60, "horizon_s": 120, "parent_size": 1000},
    envs=[
        EnvSpec("feedbackgym/FlashCrashExecution-v0",
                entry_point="feedbackgym.envs.market.execution_env:FlashCrashExecutionEnv",
                vector_entry_point="feedbackgym.envs.market.roles_vector:FlashCrashExecutionVectorEnv",
                config_class="feedbackgym.envs.market.roles_config:ExecutionConfig",
                description="The large seller's schedule (pace or participation rate) for a parent order with a "
                            "deadline in a market its sale can crash"),
    ],
)
