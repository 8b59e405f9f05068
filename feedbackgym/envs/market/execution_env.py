"""Gymnasium env: the large seller learns its schedule."""

from __future__ import annotations

from .roles_base import RoleEnv
from .roles_config import ExecutionConfig
from .roles_episode import EXEC_ACTION_NAMES, EXEC_COMPONENTS, EXEC_FEATURES, ExecutionEpisode


class FlashCrashExecutionEnv(RoleEnv):
    """A large seller must sell a parent order before a deadline in a market its selling can crash.

    ## Description

    On 6 May 2010 a fund sold 75,000 E-mini contracts with an algorithm targeting 9 % of the
    previous minute's volume, with no regard to price or time; the sale fed on the volume it
    created and took ~20 minutes (CFTC-SEC staff report, 2010). Here the agent is that seller
    in the market of :class:`~feedbackgym.envs.market.sim.MarketSim` (the kernel's external
    seller, ``sim.py`` "External agents"): the order of ``parent_size`` contracts arrives at
    ``start_s`` and should be done ``horizon_s`` later; every ``decision_s`` seconds the agent
    picks how fast to sell. Selling slowly costs time and risks the deadline; selling fast
    moves the price, triggers stops and momentum traders, exhausts the makers and can crash the
    market -- a cost to the seller (worse prices) and, in the reward, to the market.

    ## Action Space

    ``Discrete(14)`` (``env.unwrapped.action_names``): ``0..7`` sell at a multiple (0, 0.25, 0.5,
    0.75, 1, 1.5, 2, 3) of the catch-up pace -- what is left divided by the seconds left, so 1 is
    TWAP and 0 waits -- with market orders every second; ``8..13`` follow the POV rule at 3, 6,
    9, 12, 18 or 25 % of the trailing minute's volume (``10`` is the program of 6 May 2010). A
    menu rather than a ``Box``: DQN trains on it as well as PPO, and it contains both the
    time-based (TWAP, Almgren-Chriss) and the volume-based (POV, VWAP) schedules the baselines
    use. No child order is sent during a halt (market orders are void in reserved state).

    ## Observation Space

    ``Box(-10, 10, (21,), float32)``: the market features of the maker env (returns over 5 s ..
    10 min, spread, near depth, volume, order-flow imbalance, volatility, 10-s move, halt flag,
    mid vs the arrival mid, bps / 50), then ``remaining`` (fraction of the order left),
    ``time_left`` (fraction of the horizon left), ``schedule_pressure`` (remaining / time left,
    / 2: 0.5 is on the TWAP pace), ``executed_last`` (contracts sold last step / the TWAP step / 2),
    ``shortfall_so_far`` (bps / 100) and ``drawdown_so_far`` (market drawdown from the arrival
    mid, % / 5).

    ## Rewards

    A weighted sum of ``info["reward_components"]``: ``shortfall_bps`` (this step's fills vs the
    arrival mid, bps of the order's arrival value), ``unfilled_frac`` (at the deadline: the
    unsold fraction), ``drawdown_pct`` (the rise of the market's drawdown from the arrival mid,
    %: the crash it causes). Presets (``feedbackgym.reward.list_rewards("market_execution")``,
    rewards in units of 100 bps): ``exec_balanced`` (default: -0.01 shortfall_bps - 10
    unfilled_frac - 0.5 drawdown_pct), ``exec_shortfall`` (no drawdown term), ``exec_stable``
    (drawdown weight 2); the completion penalty of 10 (1,000 bps per unsold order) matches the
    ``shortfall_total_bps`` metric.

    ## Starting State

    A fresh market of the scenario (drawn from ``scenario_mix`` if set) run for ``start_s``
    seconds without the seller; the arrival mid is the mid then. On every scenario the parent
    order is the seller's (``parent_size`` contracts), so ``flash_crash`` is the thin market of
    6 May 2010 and ``calm`` the calm day's market with the same order.

    ## Episode End

    ``terminated`` at the deadline (``horizon_s`` after the arrival); an order finished earlier
    lets the market run on to the deadline within the last step (the drawdown after the sale
    counts). No truncation. ``info["episode_metrics"]``: ``shortfall_bps`` (what was sold vs
    the arrival mid), ``shortfall_total_bps`` (the whole order: unsold contracts marked at the
    deadline mid plus 1,000 bps per unsold order), ``completion_frac``, ``completion_s``
    (censored at the horizon), ``completed``, ``max_drawdown_pct`` (drawdown caused, from the
    arrival mid), ``participation`` (share of the market's volume while selling),
    ``avg_price_vs_arrival_pct``.

    ## Arguments

    ``gym.make("feedbackgym/FlashCrashExecution-v0", **fields)`` with the fields of
    :class:`~feedbackgym.envs.market.roles_config.ExecutionConfig` (``scenario``, ``market``,
    ``scenario_mix``, ``parent_size``, ``start_s``, ``horizon_s``, ``decision_s``, ``reward``);
    ``reset(options={"config": {...}})`` changes fields for the coming episodes.

    ## Vectorised version

    ``gym.make_vec(id, num_envs=N)`` gives
    :class:`~feedbackgym.envs.market.roles_vector.FlashCrashExecutionVectorEnv`: N single envs in lock-step
    (the simulator is a scalar event-by-event kernel, so this saves only wrapper overhead), with
    the transitions of N single envs seeded ``seed, seed+1, ...``.

    ## Version History

    * v0: initial version.
    """

    config_class = ExecutionConfig
    episode_class = ExecutionEpisode
    action_names = EXEC_ACTION_NAMES
    feature_names = EXEC_FEATURES
    components = EXEC_COMPONENTS
    domain = "market_execution"
