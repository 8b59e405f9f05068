"""A tiny stand-in for :class:`feedbackgym.envs.market.sim.MarketSim` with the same API and state
names, for testing the regulator env without the order book: a mean-reverting random walk around
the fundamental, pushed down while the seller sells, with the simulator's halt timers and bands."""

from __future__ import annotations

import math

import numpy as np

from feedbackgym.envs.market.sim import (
    CONTINUE, HALT, HALT_HALT, HALT_NONE, HALT_PAUSE, PAUSE, STATE_FIELDS, TIGHTEN_BANDS, WIDEN_BANDS, MarketParams)


class StandInSim:
    def __init__(self, params: MarketParams):
        if not isinstance(params, MarketParams):
            raise ValueError(f"MarketSim: expected MarketParams, got {type(params).__name__}")
        self.params = params

    def reset(self, rng: np.random.Generator) -> None:
        p = self.params
        self._rng = np.random.default_rng(int(rng.integers(2**63)))
        self.t_s = 0
        self.done = False
        self.fundamental = p.initial_price
        self.mid = p.initial_price
        self.open_price = p.initial_price
        self.last_price = p.initial_price
        self.reference_price = p.initial_price
        self.halted, self.halt_kind, self.halt_remaining_s = False, HALT_NONE, 0
        self.n_halts, self.halted_s_total = 0, 0
        self.band_pct_now = p.band_pct
        self.limit_state_s = 0
        self.seller_remaining = p.seller_size
        self.seller_executed_qty, self.seller_executed_value = 0, 0.0
        self.maker_inventory = np.zeros(p.n_makers, dtype=np.int64)
        self.total_volume = 0
        self.total_book_events = 0
        self._set_quotes(10.0)
        self._zero_flow()

    def _zero_flow(self):
        self.volume = self.buy_volume = self.sell_volume = self.n_trades = 0
        self.vwap = math.nan
        self.maker_volume = 0
        self.fundamental_volume = 0
        self.book_events = 0

    def _set_quotes(self, depth):
        p = self.params
        half = p.tick_size * (1.0 if depth > 3 else 5.0)
        self.best_bid = self.mid - half
        self.best_ask = self.mid + half
        self.spread_ticks = (self.best_ask - self.best_bid) / p.tick_size
        self.depth_bid = np.full(p.depth_levels, int(depth), dtype=np.int64)
        self.depth_ask = np.full(p.depth_levels, int(depth) + 1, dtype=np.int64)
        self.depth_bid_near = int(depth) * p.depth_levels
        self.depth_ask_near = (int(depth) + 1) * p.depth_levels

    @property
    def band_low(self):
        return self.reference_price * (1 - self.band_pct_now / 100) if self.band_pct_now > 0 else math.nan

    @property
    def band_high(self):
        return self.reference_price * (1 + self.band_pct_now / 100) if self.band_pct_now > 0 else math.nan

    @property
    def indicative_price(self):
        return self.mid if self.halted else math.nan

    @property
    def seller_active(self):
        return self.params.seller_size > 0 and self.t_s >= self.params.seller_start_s and self.seller_remaining > 0

    @property
    def maker_net_inventory(self):
        return int(self.maker_inventory.sum())

    def step(self, regulator_action: int = CONTINUE) -> None:
        p, rng = self.params, self._rng
        a = int(regulator_action)
        if a == PAUSE:
            if not self.halted:
                self.n_halts += 1
                self.halt_kind = HALT_PAUSE
            self.halted, self.halt_remaining_s = True, max(self.halt_remaining_s, p.pause_s)
        elif a == HALT:
            if not self.halted:
                self.n_halts += 1
            self.halted, self.halt_kind = True, HALT_HALT
            self.halt_remaining_s = max(self.halt_remaining_s, p.halt_s)
        elif a == WIDEN_BANDS and self.band_pct_now > 0:
            self.band_pct_now = min(self.band_pct_now * p.band_step_factor, p.band_max_pct)
        elif a == TIGHTEN_BANDS:
            self.band_pct_now = (p.band_max_pct if self.band_pct_now <= 0
                                 else max(self.band_pct_now / p.band_step_factor, p.band_min_pct))
        if p.news_time_s >= 0 and self.t_s == p.news_time_s:
            self.fundamental *= 1 - p.news_drop_pct / 100
        self._zero_flow()
        if self.halted:
            self.halted_s_total += 1
            self.halt_remaining_s -= 1
            if self.halt_remaining_s <= 0:
                self.halted, self.halt_kind, self.halt_remaining_s = False, HALT_NONE, 0
        else:
            selling = self.seller_active
            drift = 0.02 * (self.fundamental - self.mid) - (0.004 * self.mid / 10 if selling else 0.0)
            new_mid = self.mid + drift + rng.normal(0, 0.0002 * self.mid)
            if self.band_pct_now > 0:
                new_mid = min(max(new_mid, self.band_low), self.band_high)
                at_band = new_mid in (self.band_low, self.band_high)
                self.limit_state_s = self.limit_state_s + 1 if at_band else 0
            self.mid = new_mid
            vol = int(rng.poisson(20)) + 1
            self.volume, self.n_trades = vol, max(1, vol // 3)
            self.sell_volume = int(rng.integers(0, vol + 1))
            self.buy_volume = vol - self.sell_volume
            self.maker_volume = vol // 2
            self.fundamental_volume = vol // 5
            self.last_price = self.vwap = self.mid
            self.total_volume += vol
            self.book_events = 3 * vol
            self.total_book_events += self.book_events
            self.maker_inventory[0] += int(rng.integers(-2, 3))
            if selling:
                q = min(self.seller_remaining, max(1, vol // 10))
                self.seller_remaining -= q
                self.seller_executed_qty += q
                self.seller_executed_value += q * self.mid
            self.reference_price += (self.mid - self.reference_price) / p.reference_window_s
            self._set_quotes(10.0 if not selling else 2.0)
        self.t_s += 1
        self.done = self.t_s >= p.length_s

    def snapshot(self) -> dict:
        out = {}
        for name in STATE_FIELDS:
            v = getattr(self, name, 0.0)   # fields the stand-in does not model read 0
            out[name] = v.tolist() if isinstance(v, np.ndarray) else (v.item() if hasattr(v, "item") else v)
        return out
