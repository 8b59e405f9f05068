"""Many regulator episodes in one :class:`~feedbackgym.envs.market.sim.MarketBatch` -- no Gymnasium.

The batched counterpart of :class:`~feedbackgym.envs.market.episode.RegulatorEpisode` for the
vector twin. Per simulated second it makes two compiled calls for all its markets -- the
simulator's batch step and :func:`~feedbackgym.envs.market.batch_observe.account_batch` (the
observer's and the metrics' accounting, reading each market's state straight from the batch's
arrays) -- instead of one simulator call, a snapshot dict and the Python accounting per market.
Each market gives exactly what a single env seeded the same way gives: the per-episode draws
come from the market's own generator in the same order (:func:`episode.draw_params`), the
simulator is reset from it as :meth:`MarketSim.reset` does, and the formulas are the same
kernels the single env runs on a batch of one.

Markets of one batch may differ in their parameters (a ``scenario_mix``, drawn seller sizes or
news drops): the batch's trader tables are sized for every scenario the config can draw, and
each reset passes the episode's own parameters (:meth:`MarketBatch.reset_one`).
"""

from __future__ import annotations

import math

import numpy as np

from . import batch_observe as B
from . import layout as L
from .config import MarketConfig
from .episode import draw_params, episode_info
from .metrics import COMPONENTS, metric_constants, metrics_result, shock_time_s, weight_arrays
from .observe import feature_names, raise_non_finite, ring_size
from .sim import MarketBatch

#: the scalar info keys of a market's step, in the single env's order (time_s, the snapshot's
#: finite scalars, the depth summaries); the row column each is read from
INFO_COLUMNS = (("time_s", B.R_T),) + tuple((k, j) for j, k in enumerate(B.ROW_FIELDS)) + (
    ("depth_bid", B.R_DBN), ("depth_ask", B.R_DAN), ("depth_bid_levels", B.R_LEVELS_BID),
    ("depth_ask_levels", B.R_LEVELS_ASK))
_INFO_KEYS = tuple(k for k, _ in INFO_COLUMNS)
_INFO_NAMES = tuple((k, "_" + k) for k in _INFO_KEYS)
_INFO_COLS = np.array([j for _, j in INFO_COLUMNS], dtype=np.int64)
#: keys always present (the rest are left out where the value does not exist, e.g. no best bid)
_ALWAYS = frozenset(("time_s", "depth_bid", "depth_ask", "depth_bid_levels", "depth_ask_levels"))
_ALWAYS_COLS = np.array([k for k, key in enumerate(_INFO_KEYS) if key in _ALWAYS], dtype=np.int64)


class RegulatorBatch:
    """``n`` regulator episodes of ``config`` advanced together (see the module docstring)."""

    def __init__(self, config: MarketConfig, n: int, threads: int | None = 1):
        self.config = config
        self.n = n
        p = config.params()
        self.depth_levels = p.depth_levels
        self.horizons = np.array(config.horizons_s, dtype=np.int64)
        self.liquidity = bool(config.liquidity_features)
        self.n_features = len(feature_names(p.depth_levels, config.horizons_s, self.liquidity))
        # trader tables sized for every scenario an episode can draw (draws change no table size)
        presets = [config.params(s) for s in (config.scenario_mix or (config.scenario,))]
        self.batch = MarketBatch([presets[i % len(presets)] for i in range(n)], threads=threads)
        self.params = list(self.batch.params_list)
        self.rows = np.zeros((n, B.N_ROW))
        self.depth = np.zeros((n, 2, p.depth_levels))
        self.os = np.zeros((n, B.N_OS))
        self.rings = np.zeros((n, B.N_RING, ring_size(config.horizons_s)))
        self.oc = np.zeros((n, B.N_OC))
        self.obs = np.zeros((n, self.n_features))
        self.ms = np.zeros((n, B.N_MS))
        self.mc = np.zeros((n, B.N_MC))
        self.widx, self.wval = weight_arrays()
        self.comps = np.zeros((n, len(COMPONENTS)))
        self._c = np.zeros((n, len(COMPONENTS)))
        self.depth_pct = np.zeros(n)
        self.n_makers = np.zeros(n, dtype=np.int64)
        self.length_s = np.zeros(n, dtype=np.int64)
        self.steps = np.zeros(n, dtype=np.int64)
        self._write = np.zeros(n, dtype=bool)

    def start(self, i: int, rng: np.random.Generator) -> dict:
        """New episode in market ``i``; returns its reset info (as RegulatorEpisode.start)."""
        cfg = self.config
        params = draw_params(cfg, rng)
        if params.depth_levels != self.depth_levels:
            raise ValueError("market.depth_levels may not change between episodes (it sets the observation size)")
        self.batch.reset_one(i, rng, params)
        self.params[i] = params
        self.depth_pct[i] = params.depth_window_pct
        self.n_makers[i] = params.n_makers
        self.length_s[i] = params.length_s
        self.steps[i] = 0
        self.oc[i] = (float(params.length_s), float(params.halt_s),
                      float(params.n_makers * params.maker_inventory_cap))
        self.mc[i] = metric_constants(shock_time_s(params), params.length_s, params.seller_size, stress_s=cfg.stress_s)
        self.ms[i] = B.metrics_state(self.mc[i])
        which = np.array([i], dtype=np.int64)
        b = self.batch
        B.read_markets(b.ist, b.fst, b.lv, b.mk, b.tick, self.depth_pct, self.n_makers, which, self.rows, self.depth)
        bad = B.observe_reset(self.rows, self.depth, self.os, self.rings, self.oc, self.horizons, self.liquidity,
                              self.obs, which)
        self._check(bad)
        info = self.info(i)
        info.update(episode_info(params))
        return info

    def advance(self, actions: np.ndarray, stepping: np.ndarray) -> np.ndarray:
        """Apply ``actions`` at the start of the next ``decision_s`` seconds of the markets
        ``stepping`` (bool [n]) and simulate them; their reward components summed over those
        seconds are in ``comps`` afterwards. Returns which of them ended (bool [n]).

        Every market of the batch is simulated (one compiled call), also those not stepping
        (ended, or about to be reset): their seconds are not accounted and their state is
        overwritten at their next reset."""
        which = np.flatnonzero(stepping)
        self.comps[which] = 0.0
        b = self.batch
        decision_s = self.config.decision_s
        for k in range(decision_s):
            # the actions act at the decision's first second (the env checked them); then continue
            if k == 0:
                np.copyto(b.actions, np.where(stepping, actions, 0))
            elif k == 1:
                b.actions[:] = 0
            b._advance()
            write = self._write
            write[which] = (b.ist[which, L.I_T] >= self.length_s[which]) | (k == decision_s - 1)
            bad = B.account_batch(b.ist, b.fst, b.lv, b.mk, b.tick, self.depth_pct, self.n_makers, which, write,
                                  self.rows, self.depth, self.os, self.rings, self.oc, self.horizons, self.liquidity,
                                  self.obs, self.ms, self.mc, self.widx, self.wval, self.comps, self._c)
            self._check(bad)
            which = which[~write[which]]
            if not len(which):
                break
        self.steps[stepping] += 1
        return stepping & (b.ist[:, L.I_T] >= self.length_s)

    def info(self, i: int) -> dict:
        """Market ``i``'s info scalars after its last accounted second (RegulatorEpisode.info):
        floats, a quantity that does not exist now left out."""
        row = self.rows[i].tolist()
        isfinite = math.isfinite
        out = {}
        for key, j in INFO_COLUMNS:
            v = row[j]
            if key in _ALWAYS or isfinite(v):
                out[key] = v
        return out

    def infos(self, rows: np.ndarray, tail: dict) -> dict:
        """The info of the markets ``rows`` (bool [n]) in Gymnasium's vector layout, as
        ``vector_utils.stack_infos`` folds their :meth:`info` dicts each followed by ``tail``'s
        keys (entries already in the vector layout, e.g. ``reward_components``): same keys in the
        same order, float64 arrays, 0 where a market has no value, ``_key`` masks."""
        # one fresh array per step, one row per key: the infos share no memory with the batch
        vals = self.rows.T[_INFO_COLS]
        present = np.isfinite(vals)
        present &= rows
        present[_ALWAYS_COLS] = rows
        np.copyto(vals, 0.0, where=~present)
        first_row = int(np.argmax(rows))
        seen = present.any(axis=1)
        if present[seen, first_row].all():
            # the common step: the first market has every key any market has, so the fold keeps
            # the columns' order and the tail follows them all
            out = {}
            for k in np.flatnonzero(seen).tolist():
                key, mask_key = _INFO_NAMES[k]
                out[key], out[mask_key] = vals[k], present[k]
            out.update(tail)
            return out
        # the fold orders keys by first appearance: a key first seen in a later market comes after
        # every key of the markets before it (the tail's included)
        first = np.where(seen, present.argmax(axis=1), self.n)
        firsts = first.tolist()
        out = {}
        for k in np.argsort(first, kind="stable")[:int(seen.sum())].tolist() + [-1]:
            if tail and (k < 0 or firsts[k] > first_row):
                out.update(tail)
                tail = {}
            if k >= 0:
                key, mask_key = _INFO_NAMES[k]
                out[key], out[mask_key] = vals[k], present[k]
        return out

    def episode_metrics(self, i: int) -> dict:
        """Market ``i``'s episode metrics, the steps taken and its seller size (the env adds the
        action counts)."""
        m = metrics_result(self.ms[i], self.mc[i])
        m["steps"] = int(self.steps[i])
        m["seller_size"] = self.params[i].seller_size
        return m

    def _check(self, bad: int) -> None:
        if bad >= 0:
            raise_non_finite(self.obs[bad], self.depth_levels, self.config.horizons_s, self.liquidity,
                             int(self.os[bad, B.OS_T]))
