"""One episode of the market-maker role and of the execution role: the simulator, what the agent
sees, the reward components and the episode metrics (no Gymnasium here).

Both run the market second by second through the kernel's external-agent hooks (``sim.py``,
"External agents"): the maker is an *extra* agent maker next to the scenario's rule makers (so the
market it meets is the scenario's own); the executor drives the scenario's large seller (its
parent order replaces the POV program of 6 May 2010, which is one of its baselines).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .metrics import shock_time_s
from .roles_common import MARKET_FEATURES, Tape, clip_obs, market_features, sharpe_of
from .roles_config import ExecutionConfig, MakerConfig
from .sim import MarketSim

# ----------------------------------------------------------------------------------- maker

#: half-spreads and skews of the quoting actions, ticks; a positive skew lowers both quotes
#: (sells more eagerly, buys less) -- what a long maker does
HALF_TICKS = (1, 2, 4, 8)
SKEW_TICKS = (-4, -2, 0, 2, 4)
QUOTE, PULL, DUMP = range(3)
MAKER_ACTIONS = tuple([(h, s, QUOTE) for h in HALF_TICKS for s in SKEW_TICKS] + [(0, 0, PULL), (0, 0, DUMP)])
MAKER_ACTION_NAMES = tuple([f"half{h}_skew{s:+d}" for h, s, _ in MAKER_ACTIONS[:-2]] + ["pull", "dump"])

MAKER_COMPONENTS = {
    "spread_pnl": "trading gains at the mid: cash change + inventory change x mid (currency; a quote filled "
                  "away from the mid earns, a market order costs)",
    "inventory_pnl": "revaluation of the inventory held: inventory x mid change (currency)",
    "inventory_sq": "(inventory / cap)^2 per second (quadratic inventory risk)",
    "inventory_risk": "(inventory x mid change)^2 per second, currency^2 (realised variance of the inventory's "
                      "value: a mean-variance / CARA-style risk term)",
    "at_cap_s": "seconds with abs(inventory) >= 90 % of the cap",
    "two_sided_s": "seconds ending with both quotes resting (liquidity provided: the stability term)",
}
MAKER_FEATURES = tuple(MARKET_FEATURES + ["inventory", "at_cap", "bought", "sold", "bid_resting", "ask_resting",
                                          "progress"])


def maker_action(half_ticks: float, skew_ticks: float, pull: bool = False, dump: bool = False) -> int:
    """The menu action nearest to quoting ``half_ticks`` around the mid shifted down by
    ``skew_ticks`` (or to pulling, or dumping)."""
    if dump:
        return len(MAKER_ACTIONS) - 1
    if pull:
        return len(MAKER_ACTIONS) - 2
    h = min(range(len(HALF_TICKS)), key=lambda i: abs(math.log(HALF_TICKS[i]) - math.log(max(half_ticks, 0.5))))
    s = min(range(len(SKEW_TICKS)), key=lambda i: abs(SKEW_TICKS[i] - skew_ticks))
    return h * len(SKEW_TICKS) + s


class _RoleEpisode:
    """What the maker's and the seller's episodes share: the scenario draw, the simulator (kept
    while its parameters are unchanged: its arrays are costly to allocate) and the price tape."""

    agent_makers = 0

    def __init__(self, config):
        self.config = config
        self.done = True
        self.sim: MarketSim | None = None

    def _open_market(self, rng: np.random.Generator) -> tuple[str, MarketSim]:
        """Draw the scenario (from ``scenario_mix`` if set), reset the market from ``rng`` and
        start the tape; returns the scenario and the simulator."""
        cfg = self.config
        scenario = cfg.scenario
        if cfg.scenario_mix is not None:
            scenario = cfg.scenario_mix[int(rng.integers(len(cfg.scenario_mix)))]
        params = cfg.params(scenario)
        if self.sim is None or self.sim.params != params:
            self.sim = MarketSim(params, agent_makers=self.agent_makers)
        sim = self.sim
        sim.reset(rng)
        self.params = params
        self.tick = params.tick_size
        self.tape = Tape(params.length_s, self.tick)
        self.tape.record(sim)
        return scenario, sim


class MakerEpisode(_RoleEpisode):
    """The agent market maker's episode (see :class:`~.maker_env.FlashCrashMarketMakerEnv`)."""

    agent_makers = 1
    config: MakerConfig

    def start(self, rng: np.random.Generator) -> dict:
        cfg = self.config
        scenario, sim = self._open_market(rng)
        params = self.params
        self.tape.seed_variance(1.0)
        self.start_mid = sim.mid
        self.shock_s = shock_time_s(params)
        self.stress_end_s = self.shock_s + cfg.stress_s
        self.pnl_min = [0.0]           # PnL at every minute boundary (Sharpe per episode)
        self.sums = dict.fromkeys(MAKER_COMPONENTS, 0.0)
        self.abs_inv_sum = 0.0
        self.max_abs_inv = 0
        self.market_volume = 0
        self.stress: dict[str, Any] = {"s": 0, "two_sided_s": 0, "inv0": None, "inv1": 0, "pnl0": None, "pnl1": 0.0}
        self.dumped = 0
        self.low_mid = self.start_mid
        self.shock_mid: float | None = None
        self.last_bought = self.last_sold = 0
        self.steps = 0
        self.actions = np.zeros(len(MAKER_ACTIONS), np.int64)
        self.done = False
        info = self.info()
        info.update({"scenario": scenario, "episode_s": params.length_s, "decision_s": cfg.decision_s,
                     "tick_size": self.tick, "shock_s": self.shock_s,
                     # the scenario's rule makers (what the stressed_maker baseline imitates)
                     "rule_half_spread_ticks": params.maker_half_spread_ticks,
                     "rule_stress_widen": params.maker_stress_widen,
                     "rule_pull_move_ticks": params.maker_pull_move_ticks,
                     "rule_dump_frac": params.maker_dump_frac})
        return info

    # -------------------------------------------------------------------------- stepping
    def advance(self, action: int) -> dict:
        cfg, sim = self.config, self.sim
        assert sim is not None
        half, skew, mode = MAKER_ACTIONS[action]
        self.actions[action] += 1
        total = dict.fromkeys(MAKER_COMPONENTS, 0.0)
        cap, qs = cfg.inventory_cap, cfg.quote_size
        vol0 = int(sim.agent_volume[0])
        inv0 = int(sim.agent_inventory[0])
        for k in range(cfg.decision_s):
            inv = int(sim.agent_inventory[0])
            if mode == DUMP and k == 0 and inv != 0:
                q = min(abs(inv), cfg.dump_size)
                sim.set_take(0, -q if inv > 0 else q)
            if mode == QUOTE:
                sim.set_quotes(0, max(1, half + skew), max(0, min(qs, cap - inv)), max(1, half - skew),
                               max(0, min(qs, cap + inv)))
            else:
                sim.set_quotes(0, 1, 0, 1, 0)
            cash_prev, mid_prev = float(sim.agent_cash[0]), sim.mid
            sim.step()
            self._account(inv, cash_prev, mid_prev, total, dumping=(mode == DUMP and k == 0))
            if sim.done:
                break
        dv = int(sim.agent_volume[0]) - vol0
        di = int(sim.agent_inventory[0]) - inv0
        self.last_bought, self.last_sold = (dv + di) // 2, (dv - di) // 2
        self.steps += 1
        self.done = bool(sim.done)
        return total

    def _account(self, inv_prev: int, cash_prev: float, mid_prev: float, total: dict, dumping: bool) -> None:
        sim, cap = self.sim, self.config.inventory_cap
        assert sim is not None
        self.tape.record(sim)
        inv, cash, mid = int(sim.agent_inventory[0]), float(sim.agent_cash[0]), sim.mid
        if dumping:
            self.dumped += abs(inv - inv_prev)
        c = {"spread_pnl": (cash - cash_prev) + (inv - inv_prev) * mid,
             "inventory_pnl": inv_prev * (mid - mid_prev),
             "inventory_sq": (inv / cap) ** 2,
             "inventory_risk": (inv_prev * (mid - mid_prev)) ** 2,
             "at_cap_s": 1.0 if abs(inv) >= 0.9 * cap else 0.0}
        bid, ask = sim.agent_quote_prices(0)
        c["two_sided_s"] = 1.0 if (math.isfinite(bid) and math.isfinite(ask)) else 0.0
        for key, v in c.items():
            total[key] += v
            self.sums[key] += v
        t = sim.t_s
        pnl = cash + inv * mid
        if t % 60 == 0:
            self.pnl_min.append(pnl)
        self.abs_inv_sum += abs(inv)
        self.max_abs_inv = max(self.max_abs_inv, abs(inv))
        self.market_volume += sim.volume
        if t == self.shock_s:
            self.shock_mid = mid
        if self.shock_s <= t < self.stress_end_s:
            st = self.stress
            if st["inv0"] is None:
                st["inv0"], st["pnl0"] = inv_prev, cash_prev + inv_prev * mid_prev
            st["s"] += 1
            st["two_sided_s"] += c["two_sided_s"]
            st["inv1"], st["pnl1"] = inv, pnl
        if self.shock_mid is not None:
            self.low_mid = min(self.low_mid, mid)

    # -------------------------------------------------------------------------- views
    @property
    def obs(self) -> np.ndarray:
        sim, cfg = self.sim, self.config
        assert sim is not None
        inv = int(sim.agent_inventory[0])
        bid, ask = sim.agent_quote_prices(0)
        per_step = cfg.decision_s * cfg.quote_size
        own = [inv / cfg.inventory_cap, 1.0 if abs(inv) >= 0.9 * cfg.inventory_cap else 0.0,
               self.last_bought / per_step, self.last_sold / per_step,
               1.0 if math.isfinite(bid) else 0.0, 1.0 if math.isfinite(ask) else 0.0,
               sim.t_s / self.params.length_s]
        return clip_obs(market_features(self.tape, sim, self.start_mid) + own)

    def info(self) -> dict:
        sim, cfg = self.sim, self.config
        assert sim is not None
        bid, ask = sim.agent_quote_prices(0)
        out = {"time_s": float(sim.t_s), "mid": sim.mid, "spread_ticks": sim.spread_ticks,
               "inventory": float(sim.agent_inventory[0]), "cash": float(sim.agent_cash[0]),
               "pnl": float(sim.agent_pnl[0]), "agent_volume": float(sim.agent_volume[0]),
               "inventory_cap": float(cfg.inventory_cap), "quote_size": float(cfg.quote_size),
               "var_ticks2_per_s": self.tape.var_ticks2, "move_10s_ticks": self.tape.move_ticks(10),
               "halted": float(sim.halted), "maker_net_inventory": float(sim.maker_net_inventory)}
        if math.isfinite(bid):
            out["bid_quote"] = bid
        if math.isfinite(ask):
            out["ask_quote"] = ask
        if not math.isfinite(out["spread_ticks"]):
            del out["spread_ticks"]
        return out

    def metrics(self) -> dict:
        sim = self.sim
        assert sim is not None
        n = max(sim.t_s, 1)
        pnl = float(sim.agent_pnl[0])
        pnl_min = list(self.pnl_min)
        if sim.t_s % 60:
            pnl_min.append(pnl)
        st = self.stress
        vol = int(sim.agent_volume[0])
        shock_mid = self.shock_mid
        m = {
            "pnl": pnl,
            "sharpe": sharpe_of(np.asarray(pnl_min)),
            "spread_pnl": self.sums["spread_pnl"],
            "inventory_pnl": self.sums["inventory_pnl"],
            "max_abs_inventory": float(self.max_abs_inv),
            "mean_abs_inventory": self.abs_inv_sum / n,
            "time_at_cap_frac": self.sums["at_cap_s"] / n,
            "agent_volume": float(vol),
            "volume_share": vol / self.market_volume if self.market_volume else 0.0,
            "two_sided_frac": self.sums["two_sided_s"] / n,
            "two_sided_frac_stress": st["two_sided_s"] / st["s"] if st["s"] else None,
            "net_bought_stress": float(st["inv1"] - st["inv0"]) if st["inv0"] is not None else None,
            "pnl_stress": float(st["pnl1"] - st["pnl0"]) if st["pnl0"] is not None else None,
            "dumped_contracts": float(self.dumped),
            "market_drawdown_pct": (100.0 * (shock_mid - self.low_mid) / shock_mid) if shock_mid else None,
            "steps": self.steps,
        }
        for name, count in zip(("pull", "dump"), self.actions[-2:]):
            m[f"actions_{name}"] = int(count)
        return m


# ------------------------------------------------------------------------------- execution

#: the schedule actions: multiples of the catch-up rate (what is left / time left), then
#: participation rates of the trailing minute's volume (the POV rule at that rate)
EXEC_MULTIPLES = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
EXEC_RATES = (0.03, 0.06, 0.09, 0.12, 0.18, 0.25)
EXEC_ACTION_NAMES = tuple([f"pace_x{m:g}" for m in EXEC_MULTIPLES] + [f"pov_{int(round(r * 100))}pct"
                                                                     for r in EXEC_RATES])

#: what missing the deadline costs in the headline shortfall and in the reward presets: 1,000 bps
#: per unsold fraction of the order (an unsold contract costs as much as a 10 % price concession)
COMPLETION_PENALTY_BPS = 1000.0

EXEC_COMPONENTS = {
    "shortfall_bps": "implementation shortfall of this step's fills vs the arrival mid, bps of the parent order's "
                     "arrival value (sums to the episode's shortfall on what was sold)",
    "unfilled_frac": "at the deadline: the fraction of the parent order left unsold (0 before)",
    "drawdown_pct": "rise of the market's drawdown from the arrival mid during the step, percent (sums to the "
                    "episode's maximum drawdown: the crash the sale causes is a cost)",
}
EXEC_FEATURES = tuple(MARKET_FEATURES + ["remaining", "time_left", "schedule_pressure", "executed_last",
                                         "shortfall_so_far", "drawdown_so_far"])


def exec_pace_action(multiple: float) -> int:
    """The schedule action nearest to ``multiple`` x the catch-up rate."""
    return min(range(len(EXEC_MULTIPLES)), key=lambda i: abs(EXEC_MULTIPLES[i] - multiple))


def exec_rate_action(rate: float) -> int:
    """The participation action nearest to ``rate`` (share of the trailing minute's volume)."""
    return len(EXEC_MULTIPLES) + min(range(len(EXEC_RATES)), key=lambda i: abs(EXEC_RATES[i] - rate))


class ExecutionEpisode(_RoleEpisode):
    """The large seller's episode (see :class:`~.execution_env.FlashCrashExecutionEnv`)."""

    config: ExecutionConfig

    def start(self, rng: np.random.Generator) -> dict:
        cfg = self.config
        scenario, sim = self._open_market(rng)
        while sim.t_s < cfg.start_s:   # the calm before the order arrives
            sim.set_seller_child(0)
            sim.step()
            self.tape.record(sim)
        self.arrival_mid = sim.mid
        self.deadline_s = cfg.start_s + cfg.horizon_s
        self.low_mid = self.arrival_mid
        self.drawdown_pct = 0.0
        self.carry = 0.0
        self.completion_s: int | None = None
        self.market_volume_during = 0
        self.last_executed = 0
        self.steps = 0
        self.actions = np.zeros(len(EXEC_ACTION_NAMES), np.int64)
        self.done = False
        info = self.info()
        info.update({"scenario": scenario, "parent_size": float(cfg.parent_size), "horizon_s": float(cfg.horizon_s),
                     "decision_s": float(cfg.decision_s), "arrival_mid": self.arrival_mid, "tick_size": self.tick})
        return info

    def advance(self, action: int) -> dict:
        cfg, sim = self.config, self.sim
        assert sim is not None
        self.actions[action] += 1
        total = dict.fromkeys(EXEC_COMPONENTS, 0.0)
        exec0 = sim.seller_executed_qty
        pace = action < len(EXEC_MULTIPLES)
        for _ in range(cfg.decision_s):
            if sim.seller_remaining > 0:
                if pace:
                    left_s = max(self.deadline_s - sim.t_s, 1)
                    self.carry += EXEC_MULTIPLES[action] * sim.seller_remaining / left_s
                    q = min(int(self.carry), sim.seller_remaining, 65535)
                    self.carry -= q
                    sim.set_seller_child(q)
                else:
                    sim.set_seller_participation(EXEC_RATES[action - len(EXEC_MULTIPLES)])
            self._second(total)
            if sim.t_s >= self.deadline_s:
                break
        self.last_executed = sim.seller_executed_qty - exec0
        if sim.seller_remaining == 0 and self.completion_s is None:
            self.completion_s = sim.t_s - cfg.start_s
        if sim.seller_remaining == 0 and sim.t_s < self.deadline_s:
            while sim.t_s < self.deadline_s:   # done early: the market runs on to the deadline (its drawdown counts)
                sim.set_seller_child(0)
                self._second(total)
        if sim.t_s >= self.deadline_s:
            total["unfilled_frac"] = sim.seller_remaining / cfg.parent_size
            self.done = True
        self.steps += 1
        return total

    def _second(self, total: dict) -> None:
        sim = self.sim
        assert sim is not None
        q0, v0 = sim.seller_executed_qty, sim.seller_executed_value
        sim.step()
        self.tape.record(sim)
        dq, dv = sim.seller_executed_qty - q0, sim.seller_executed_value - v0
        total["shortfall_bps"] += (dq * self.arrival_mid - dv) / (self.arrival_mid * self.config.parent_size) * 1e4
        self.low_mid = min(self.low_mid, sim.mid)
        dd = max(0.0, 100.0 * (self.arrival_mid - self.low_mid) / self.arrival_mid)
        total["drawdown_pct"] += dd - self.drawdown_pct
        self.drawdown_pct = dd
        if self.completion_s is None:
            self.market_volume_during += sim.volume
            if sim.seller_remaining == 0:
                self.completion_s = sim.t_s - self.config.start_s

    @property
    def obs(self) -> np.ndarray:
        sim, cfg = self.sim, self.config
        assert sim is not None
        left_s = max(self.deadline_s - sim.t_s, 0)
        rem = sim.seller_remaining / cfg.parent_size
        time_left = left_s / cfg.horizon_s
        pressure = rem / max(time_left, 1.0 / cfg.horizon_s)
        twap_step = cfg.parent_size / cfg.horizon_s * cfg.decision_s
        own = [rem, time_left, min(pressure, 10.0) / 2.0, self.last_executed / twap_step / 2.0,
               self._shortfall_bps_so_far() / 100.0, self.drawdown_pct / 5.0]
        return clip_obs(market_features(self.tape, sim, self.arrival_mid) + own)

    def _shortfall_bps_so_far(self) -> float:
        sim = self.sim
        assert sim is not None
        q = sim.seller_executed_qty
        return (q * self.arrival_mid - sim.seller_executed_value) / (self.arrival_mid * q) * 1e4 if q else 0.0

    def info(self) -> dict:
        sim, cfg = self.sim, self.config
        assert sim is not None
        out = {"time_s": float(sim.t_s), "mid": sim.mid, "remaining": float(sim.seller_remaining),
               "executed_qty": float(sim.seller_executed_qty), "executed_value": float(sim.seller_executed_value),
               "time_left_s": float(max(cfg.start_s + cfg.horizon_s - sim.t_s, 0)),
               "volume_60s": self.tape.window_sum(self.tape.vol, 60),
               "volume_600s": self.tape.window_sum(self.tape.vol, 600),
               "seconds_600s": float(min(self.tape.n, 600)),
               "var_ticks2_per_s": self.tape.var_ticks2,
               "halted": float(sim.halted), "drawdown_pct": self.drawdown_pct}
        if math.isfinite(sim.spread_ticks):
            out["spread_ticks"] = sim.spread_ticks
        return out

    def metrics(self) -> dict:
        sim, cfg = self.sim, self.config
        assert sim is not None
        q, value, rem = sim.seller_executed_qty, sim.seller_executed_value, sim.seller_remaining
        arrival = self.arrival_mid
        end_mid = sim.mid
        total = (arrival * cfg.parent_size - (value + rem * end_mid)) / (arrival * cfg.parent_size) * 1e4
        done_s = self.completion_s if self.completion_s is not None else cfg.horizon_s
        m = {
            "shortfall_bps": self._shortfall_bps_so_far(),
            "shortfall_total_bps": total + COMPLETION_PENALTY_BPS * rem / cfg.parent_size,
            "completion_frac": q / cfg.parent_size,
            "completion_s": float(done_s),
            "completed": 1.0 if rem == 0 else 0.0,
            "max_drawdown_pct": self.drawdown_pct,
            "participation": q / self.market_volume_during if self.market_volume_during else 0.0,
            "avg_price_vs_arrival_pct": 100.0 * ((value / q) / arrival - 1.0) if q else 0.0,
            "steps": self.steps,
        }
        return m

