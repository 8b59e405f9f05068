"""Gymnasium env: a market maker quoting through the flash crash."""

from __future__ import annotations

from .roles_base import RoleEnv
from .roles_config import MakerConfig
from .roles_episode import MAKER_ACTION_NAMES, MAKER_COMPONENTS, MAKER_FEATURES, MakerEpisode


class FlashCrashMarketMakerEnv(RoleEnv):
    """An inventory-capped market maker quotes in a limit-order-book market that may flash-crash.

    ## Description

    The market of :class:`~feedbackgym.envs.market.sim.MarketSim` (noise, fundamental,
    deep-value and momentum traders, stop orders, the scenario's rule-based market makers and, on
    crash days, a large seller selling 9 % of the trailing minute's volume with no price limit)
    runs second by second; the agent is one *extra* market maker (the kernel's agent-maker slot,
    ``sim.py`` "External agents"), so it meets the scenario's own market. Every ``decision_s``
    seconds it chooses a half-spread and a skew for its two quotes (re-centred on the mid every
    second, keeping time priority while unchanged), or pulls its quotes, or dumps inventory with a
    market order. On 6 May 2010 intermediaries first bought, hit their inventory limits, then
    sold aggressively ("hot potato", Kirilenko et al., J. Finance 2017): the role asks whether a
    learned maker can earn the spread through such a day without hitting its cap.

    ## Action Space

    ``Discrete(22)``, a menu (``env.unwrapped.action_names``): actions ``0..19`` quote with
    half-spread ``h`` in (1, 2, 4, 8) ticks and skew ``s`` in (-4, -2, 0, 2, 4) ticks
    (``a = 5 * index(h) + index(s)``): the bid rests ``h + s`` ticks below the mid and the ask
    ``h - s`` above it (each at least 1 tick; a positive skew sells more eagerly, what a long maker
    does), ``quote_size`` contracts a side, less where a fill could pass the inventory cap;
    ``20`` pulls both quotes; ``21`` dumps ``dump_size`` contracts towards a flat position with a
    market order and pulls the quotes for the step. A discrete menu, not a ``Box``: DQN trains on
    it as well as PPO, the three classical makers (fixed spread, Avellaneda-Stoikov, the
    simulator's stressed-maker rule) map onto it (``feedbackgym.envs.market.roles_episode.maker_action``),
    and prices live on a tick grid anyway. Actions outside the space raise ``ValueError``.

    ## Observation Space

    ``Box(-10, 10, (22,), float32)``, what a trader sees (never the fundamental value or other
    traders' state), each feature scaled to order one:

    | features                              | meaning                                              |
    |---------------------------------------|------------------------------------------------------|
    | return_5s .. return_600s              | mid return over the horizon, bps / 20                |
    | spread                                | ln(1 + spread ticks) / ln 101 (1 when a side is empty) |
    | depth_bid_near, depth_ask_near        | ln(1 + contracts within 1 % of the mid) / 8          |
    | volume_30s, volume_300s               | ln(1 + contracts per second) / 5                     |
    | imbalance_30s, imbalance_120s         | (buy - sell) / (buy + sell + 1) of aggressor volume  |
    | volatility                            | sd of 1-s mid changes (EWMA, 60-s half-life), ticks / 5 |
    | move_10s                              | abs(mid move over 10 s), ticks / 30                  |
    | halted, mid_vs_start                  | halt flag; mid vs the episode's first mid, bps / 50  |
    | inventory, at_cap                     | inventory / cap; abs(inventory) >= 90 % of the cap   |
    | bought, sold                          | contracts bought / sold last step / (decision_s x quote_size) |
    | bid_resting, ask_resting, progress    | own quotes resting (0/1); t / episode length         |

    ## Rewards

    A weighted sum of the components in ``info["reward_components"]``, each summed over the
    step's seconds: ``spread_pnl`` (currency: cash change + inventory change x mid -- the spread
    earned, or paid by a dump), ``inventory_pnl`` (inventory x mid change), ``inventory_sq``
    ((inventory / cap)^2 per second), ``inventory_risk`` ((inventory x mid change)^2, currency^2),
    ``at_cap_s`` (seconds at >= 90 % of the cap), ``two_sided_s`` (seconds with both quotes
    resting: liquidity provided). ``spread_pnl + inventory_pnl`` is the change of the
    mark-to-market PnL. Presets (``feedbackgym.reward.list_rewards("market_maker")``):
    ``maker_quadratic`` (default: PnL - 0.5 inventory_sq - 0.5 at_cap_s), ``maker_cara`` (PnL -
    0.0005 inventory_risk, mean-variance with risk aversion 0.001), ``maker_pnl`` (PnL only),
    ``maker_stable`` (``maker_quadratic`` + 0.1 two_sided_s), ``maker_sharpe`` (PnL - 0.002
    inventory_risk - inventory_sq - 2 at_cap_s: the Sharpe target's risk-adjusted PnL); or a weights dict, a
    ``"module:function"`` string, or a callable.

    ## Starting State

    A fresh market of the scenario (drawn from ``scenario_mix`` if set) after the simulator's
    warm-up, the agent flat with no quotes; on ``flash_crash`` days the seller starts at 15 min.

    ## Episode End

    ``terminated`` after ``episode_s`` simulated seconds (40 min by default); no truncation.
    ``info["episode_metrics"]``: ``pnl`` (currency), ``sharpe`` (mean / sd of the per-minute PnL
    changes, not annualised), ``spread_pnl``, ``inventory_pnl``, ``max_abs_inventory``,
    ``mean_abs_inventory``, ``time_at_cap_frac``, ``agent_volume``, ``volume_share`` (agent
    contracts / market contracts), ``two_sided_frac`` and ``two_sided_frac_stress`` (in the
    ``stress_s`` after the shock: does it keep providing liquidity?), ``net_bought_stress`` (does
    it absorb the sale?), ``pnl_stress``, ``dumped_contracts``, ``market_drawdown_pct``, pulls and
    dumps.

    ## Arguments

    ``gym.make("feedbackgym/FlashCrashMarketMaker-v0", **fields)`` with the fields of
    :class:`~feedbackgym.envs.market.roles_config.MakerConfig` (``scenario``, ``market``,
    ``scenario_mix``, ``episode_s``, ``decision_s``, ``inventory_cap``, ``quote_size``,
    ``dump_size``, ``stress_s``, ``reward``); ``reset(options={"config": {...}})`` changes fields
    for the coming episodes.

    ## Vectorised version

    ``gym.make_vec(id, num_envs=N)`` gives
    :class:`~feedbackgym.envs.market.roles_vector.FlashCrashMarketMakerVectorEnv`: N single envs in lock-step
    (the simulator is a scalar event-by-event kernel, so this saves only wrapper overhead), with
    the transitions of N single envs seeded ``seed, seed+1, ...``.

    ## Version History

    * v0: initial version.
    """

    config_class = MakerConfig
    episode_class = MakerEpisode
    action_names = MAKER_ACTION_NAMES
    feature_names = MAKER_FEATURES
    components = MAKER_COMPONENTS
    domain = "market_maker"
