"""Classical baselines of the market-maker and execution roles.

Makers (``FlashCrashMarketMaker-v0``): a fixed-spread maker, the Avellaneda-Stoikov maker
(closed-form reservation price and spread), and the simulator's own stressed-maker rule (the
rule makers of ``populations.py``: widen with the recent move, skew against inventory, pull after
a large move, dump beyond a fraction of the cap). Executors (``FlashCrashExecution-v0``): TWAP,
VWAP, the POV program of 6 May 2010 at 9 %, and Almgren-Chriss with impact fitted on the
simulator (``experiments/market/roles/fit_impact.py``). Each reads the step's ``info`` (the
role's own state and what a trader sees) and answers with an action of the env's menu.
"""

from __future__ import annotations

import math

from ...envs.market.roles_episode import (EXEC_MULTIPLES, exec_pace_action, exec_rate_action, maker_action)

__all__ = ["FixedSpreadMaker", "AvellanedaStoikovMaker", "GuardedAvellanedaStoikovMaker", "StressedMakerRule",
           "TWAP", "VWAP", "POV", "AlmgrenChriss", "AC_FIT"]


class _Policy:
    def reset(self, env, obs, info) -> None:
        self.session = dict(info)

    def end_episode(self, obs, info) -> None:
        return None

    def __repr__(self) -> str:
        kw = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_") and k != "session")
        return f"{type(self).__name__}({kw})"


# ------------------------------------------------------------------------------------- makers


class FixedSpreadMaker(_Policy):
    """Quote ``half_ticks`` around the mid, no skew, whatever happens (the cap still binds)."""

    def __init__(self, half_ticks: float = 2.0):
        self.half_ticks = half_ticks

    def act(self, obs, info) -> int:
        return maker_action(self.half_ticks, 0.0)


class AvellanedaStoikovMaker(_Policy):
    """Avellaneda & Stoikov (Quant. Finance 2008), closed form in ticks.

    Reservation price ``r = s - q gamma sigma^2 tau`` and total spread
    ``gamma sigma^2 tau + (2 / gamma) ln(1 + gamma / k)``, with ``q`` the inventory (contracts),
    ``sigma^2`` the per-second variance of mid changes (ticks^2, the env's EWMA estimate),
    ``tau`` the remaining horizon capped at ``horizon_s`` (the stationary variant: a maker does not
    flatten at an arbitrary episode end), ``k`` the decay of fill intensity with distance (per
    tick). The quotes become half-spread = spread / 2 and skew = ``q gamma sigma^2 tau`` ticks,
    then the nearest menu action. ``gamma`` is per contract per tick: 0.0016 skews 4 ticks at 50
    contracts with sigma^2 = 1.7 ticks^2/s (the calm market) and ``tau`` = 300 s; ``k`` = 0.5 gives
    a calm half-spread of ~2 ticks. The spread and skew grow with volatility: the model's own
    answer to stress.
    """

    def __init__(self, gamma: float = 0.0016, k: float = 0.5, horizon_s: float = 300.0):
        self.gamma = gamma
        self.k = k
        self.horizon_s = horizon_s

    def act(self, obs, info) -> int:
        q = info["inventory"]
        var = max(info["var_ticks2_per_s"], 1e-6)
        left = self.session["episode_s"] - info["time_s"]
        tau = max(min(self.horizon_s, left), 1.0)
        g = self.gamma
        skew = q * g * var * tau
        spread = g * var * tau + (2.0 / g) * math.log(1.0 + g / self.k)
        return maker_action(spread / 2.0, skew)


class GuardedAvellanedaStoikovMaker(AvellanedaStoikovMaker):
    """Avellaneda-Stoikov with a volatility guard: while the sd of one-second mid changes (the
    env's EWMA estimate, ``sqrt(var_ticks2_per_s)``) exceeds ``max_vol_ticks``, dump inventory
    towards flat (``dump`` action) and, once flat, pull both quotes. The threshold of 3 ticks was
    chosen on the training envs' validation seeds (0-3 of calm and flash_crash), where it never
    fires on calm days; it is the teacher of the ``ppo_guard`` maker run."""

    def __init__(self, gamma: float = 0.0016, k: float = 0.5, horizon_s: float = 300.0, max_vol_ticks: float = 3.0):
        super().__init__(gamma=gamma, k=k, horizon_s=horizon_s)
        self.max_vol_ticks = max_vol_ticks

    def act(self, obs, info) -> int:
        if math.sqrt(max(info["var_ticks2_per_s"], 0.0)) > self.max_vol_ticks:
            return maker_action(0.0, 0.0, dump=info["inventory"] != 0, pull=True)
        return super().act(obs, info)


class StressedMakerRule(_Policy):
    """The simulator's rule maker (``populations.ev_maker``) on the agent's menu: half-spread
    ``half_ticks + widen x`` the 10-s move (ticks), skew ``(inventory / cap) (half + 1)`` against
    the inventory, pull when the 10-s move reaches ``pull_move_ticks``, dump beyond ``dump_frac``
    of the cap. Parameters left ``None`` are the episode's own rule makers' (the scenario's
    ``maker_half_spread_ticks``, ``maker_stress_widen``, ``maker_pull_move_ticks``,
    ``maker_dump_frac``, read from the reset info)."""

    def __init__(self, half_ticks: float | None = None, widen: float | None = None,
                 pull_move_ticks: float | None = None, dump_frac: float | None = None):
        self.half_ticks = half_ticks
        self.widen = widen
        self.pull_move_ticks = pull_move_ticks
        self.dump_frac = dump_frac

    def reset(self, env, obs, info) -> None:
        super().reset(env, obs, info)
        given = {"half_ticks": self.half_ticks, "widen": self.widen, "pull_move_ticks": self.pull_move_ticks,
                 "dump_frac": self.dump_frac}
        keys = {"half_ticks": "rule_half_spread_ticks", "widen": "rule_stress_widen",
                "pull_move_ticks": "rule_pull_move_ticks", "dump_frac": "rule_dump_frac"}
        self._p = {k: (v if v is not None else float(info[keys[k]])) for k, v in given.items()}

    def act(self, obs, info) -> int:
        p = self._p
        inv, cap = info["inventory"], info["inventory_cap"]
        if abs(inv) > p["dump_frac"] * cap:
            return maker_action(0, 0, dump=True)
        stress = info["move_10s_ticks"]
        if stress >= p["pull_move_ticks"]:
            return maker_action(0, 0, pull=True)
        half = p["half_ticks"] + p["widen"] * stress
        return maker_action(half, inv / cap * (half + 1.0))


# --------------------------------------------------------------------------------- executors


class TWAP(_Policy):
    """Sell evenly to the deadline: always the catch-up pace (what is left / time left)."""

    def act(self, obs, info) -> int:
        return exec_pace_action(1.0)


class POV(_Policy):
    """Percent of volume: sell ``rate`` of the trailing minute's volume, no price or time limit
    (``rate`` = 0.09 is the program of 6 May 2010)."""

    def __init__(self, rate: float = 0.09):
        self.rate = rate

    def act(self, obs, info) -> int:
        return exec_rate_action(self.rate)


class VWAP(_Policy):
    """Trade with the market's volume: the participation rate that finishes at the deadline if
    the market keeps trading at its trailing 10-minute rate (own sales excluded), nearest on the
    menu; in the last ``finish_s`` seconds, the catch-up pace so nothing is left."""

    def __init__(self, finish_s: float = 120.0):
        self.finish_s = finish_s

    def act(self, obs, info) -> int:
        left_s = info["time_left_s"]
        if left_s <= self.finish_s:
            return exec_pace_action(1.0)
        rate_per_s = info["volume_600s"] / max(info["seconds_600s"], 1.0)
        expected = rate_per_s * left_s
        want = info["remaining"] / max(expected, 1.0)
        return exec_rate_action(want / (1.0 + want))  # own sales add to the volume they follow


#: Almgren-Chriss parameters fitted on the simulator's flash-crash market by
#: experiments/market/roles/fit_impact.py (results/market/roles/impact_fit.json; a test checks
#: they match): temporary impact eta (currency per contract/s), permanent impact (currency per
#: contract), volatility sigma (currency per sqrt(s)).
AC_FIT = {"eta": 0.15802474189262428, "gamma": 0.001662394893290031, "sigma": 0.5180341446275525}


class AlmgrenChriss(_Policy):
    """Almgren & Chriss (J. Risk 2000): the mean-variance optimal schedule with linear impact,
    holdings ``x(t) = X sinh(kappa (T - t)) / sinh(kappa T)``, ``kappa = sqrt(lam sigma^2 / eta)``.
    Each step re-plans from what is left: the next step's share of the remaining order,
    ``1 - sinh(kappa (T - t - dt)) / sinh(kappa (T - t))``, as a multiple of the catch-up pace
    ``dt / (T - t)``, nearest on the menu. ``lam`` is the risk aversion per currency (a choice,
    not a fit: 1e-7 gives ``kappa T`` ~ 1 on the 40-minute horizon, a moderately front-loaded
    schedule); ``eta`` and ``sigma`` come from :data:`AC_FIT` (with linear impact the permanent
    part does not change the optimal schedule)."""

    def __init__(self, lam: float = 1e-7, eta: float | None = None, sigma: float | None = None):
        self.lam = lam
        self.eta = AC_FIT["eta"] if eta is None else eta
        self.sigma = AC_FIT["sigma"] if sigma is None else sigma

    def kappa(self) -> float:
        return math.sqrt(self.lam * self.sigma ** 2 / self.eta) if self.eta > 0 else 0.0

    def act(self, obs, info) -> int:
        left = info["time_left_s"]
        dt = self.session["decision_s"]
        if left <= dt:
            return exec_pace_action(max(EXEC_MULTIPLES))
        kappa = self.kappa()
        if kappa * left < 1e-6:
            return exec_pace_action(1.0)
        x = kappa * left
        if x > 50:   # sinh ratio without overflow
            share = 1.0 - math.exp(-kappa * dt)
        else:
            share = 1.0 - math.sinh(kappa * (left - dt)) / math.sinh(x)
        return exec_pace_action(share / (dt / left))
