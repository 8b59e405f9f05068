"""Does the 5-second Stop Logic pause *cause* the rebound? A paired fork test (issue 8, must-show 2).

    .venv/bin/python experiments/market/pause_causal.py --seeds 40 --first-seed 3000 \\
        --out results/market/crash --workers 2

The crash experiment (``crash.py``) finds a >= 50 % rebound within 5 minutes of a 5-s pause on
most seeds, but comparing runs with and without a breaker says nothing about causation: the
markets diverge long before the pause (the no-breaker market falls deeper and bounces from
lower). This script asks the causal question with common random numbers.

Method. One ``stop_logic`` episode per seed and setting (the crash experiment's driver: the
env's Stop Logic plug-in fed what an exchange sees, one decision per simulated second). At every
second where the rule *starts* a pause after the seller's start (a "fork"), the whole state is
copied -- the simulator's arrays including its random stream (``copy.deepcopy``; see
:func:`fork_sim`), the rule's state and the driver's next action -- and continued in branches
that differ only in that pause:

* ``A``      the pause happens and the rule stays in force (the original path);
* ``B1``     this pause is suppressed (the rule restarts its look-back as after a pause, so a
             later fast move can still pause), the rule stays in force;
* ``B2``     this pause is suppressed and there is no breaker from then on;
* ``A0_L``   one pause of ``L`` seconds now, then no breaker (``A0_5`` is ``A0``): the isolated
             pause, paired with ``B2`` (``L`` in ``--pause-lengths``: the dose-response).

Every branch starts from the same random state; the streams drift apart only through what the
pause changes. The contrasts: ``A - B1`` (this pause, the rule otherwise in force), ``A0 - B2``
(one pause in a market without any other breaker), ``A - B2`` (the rule from here on) and
``A0_L - B2``.

Validity check (asserted, every fork): branch ``A`` -- the copy continued without any change --
reproduces the original path bit for bit (mid, depth, spread, halt state, seller fills), and
the driver's original path is the one ``crash_lib.run_episode`` gives for the seed.

Measured per branch, relative to the pre-shock mid (the mid the second before the seller
starts): the mid 30 s, 60 s and 5 min after the fork; further drawdown after the fork (the
lowest mid within 5 min below the mid at the fork); the fraction of the drop retraced within
5 min and at +5 min and the time to 50 % retracement, each against a *common* reference (the
lowest mid from the seller's start to the fork, the same in both branches of a pair, so a branch
that falls deeper does not get a bigger denominator); near-mid bid depth (as a fraction of
pre-shock) and spread at the reopening and over the 60 s after it (the same seconds in both
branches); contracts the seller sold within 5 min. Paired differences are reported with means,
standard errors (naive, and clustered by episode because the forks of one episode share a path)
and the fraction of forks where the pause helped.

Writes ``pause_causal.md`` (tables), ``pause_causal.json`` (the tables' numbers and the
settings), ``pause_causal_forks.csv.gz`` (one row per fork and branch, 4 significant digits) and
``pause_causal_paths.png`` (paired price paths of three first forks).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import gzip
import json
import math
import os
import sys
import warnings
from collections.abc import Sequence

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crash_lib import ExchangeRule, run_episode  # noqa: E402

from feedbackgym.envs.market.params_layout import PARAM_NAMES  # noqa: E402
from feedbackgym.envs.market.sim import CONTINUE, PAUSE, MarketSim, scenario_params  # noqa: E402
from feedbackgym.files import atomic_write, csv_text  # noqa: E402

#: the regulator's held-out test grid (experiments/market/regulator.py TEST_SETTINGS, minus news,
#: which has no seller): name -> (scenario, MarketParams overrides)
SETTINGS = {
    "flash_crash": ("flash_crash", {}),
    "flash_crash_15000": ("flash_crash", {"seller_size": 15000}),
    "mini_crash": ("mini_crash", {}),
}
#: each setting's seeds: first_seed + offset + k, so the settings' episodes are independent (with
#: one seed, the three settings share the path until the smallest seller is done)
SEED_OFFSET = {"flash_crash": 0, "flash_crash_15000": 1000, "mini_crash": 2000}
KEYS = ("mid", "depth_bid_near", "spread_ticks", "halted", "seller_executed_qty")
P_PAUSE_INDEX = PARAM_NAMES.index("pause_s")
MIN_DROP_PCT = 0.5   # retracement ratios only when the drop before the fork is at least this


# ------------------------------------------------------------------------------------ forking

def fork_sim(sim: MarketSim) -> MarketSim:
    """An independent copy of ``sim`` that continues exactly as ``sim`` would
    (``MarketSim.__deepcopy__`` re-links the copy's row views to its own batch arrays), checked
    here to share no memory with the original."""
    c = copy.deepcopy(sim)
    batch = vars(sim._b)
    for name, v in vars(c).items():   # nothing of the copy may alias the original
        if isinstance(v, np.ndarray):
            assert not any(np.shares_memory(v, a) for a in batch.values() if isinstance(a, np.ndarray)), name
    for v in c._b._args or ():   # the copied batch's compiled-step arguments
        assert not any(np.shares_memory(v, a) for a in batch.values() if isinstance(a, np.ndarray))
    return c


def set_pause_length(sim: MarketSim, pause_s: int) -> None:
    """What the next PAUSE lasts in this (forked) market: the kernel reads it from the packed
    parameters when the action is applied."""
    sim._b.prm[0, P_PAUSE_INDEX] = float(pause_s)
    sim.params = dataclasses.replace(sim.params, pause_s=int(pause_s))


def record(sim: MarketSim, out: dict, k: int) -> None:
    for key in KEYS:
        out[key][k] = getattr(sim, key)


def run_branch(sim: MarketSim, rule, first_action: int, horizon: int) -> dict:
    """Continue a forked market: ``first_action`` now, then ``rule`` (None: no breaker) each
    second, for ``horizon`` seconds or to the end of the episode (NaN after it)."""
    out = {k: np.full(horizon, np.nan) for k in KEYS}
    a = first_action
    n = min(horizon, sim.params.length_s - sim.t_s)
    for k in range(n):
        sim.step(a)
        record(sim, out, k)
        a = rule.act(sim) if rule is not None else CONTINUE
    return out


# ------------------------------------------------------------------------------------ metrics

#: extremes (further drawdown, most retraced) and the time to 50 % retracement are read on the
#: trailing median of the mid over this many seconds: with one side of the book empty the mid
#: jumps for a second or two (and during a halt it is the indicative price), and a maximum or a
#: first passage of the raw mid would count those spikes
SMOOTH_S = 15


def smooth(mid: np.ndarray) -> np.ndarray:
    """Trailing ``SMOOTH_S``-second median (shorter at the start; NaN where the mid is NaN)."""
    pad = np.concatenate([np.full(SMOOTH_S - 1, np.nan), mid])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN windows after the episode's end
        out = np.nanmedian(np.lib.stride_tricks.sliding_window_view(pad, SMOOTH_S), axis=1)
    out[~np.isfinite(mid)] = np.nan
    return out


def branch_metrics(b: dict, ctx: dict, reopen_s: int) -> dict:
    """The outcome measures of one branch (``b``: per-second series after the fork, index k is the
    state after k + 1 seconds). ``reopen_s``: the seconds the paired pause lasts (its reopening
    is at index reopen_s - 1), so both branches of a pair are measured on the same seconds."""
    pre, mid_fork, trough, drop = ctx["pre_mid"], ctx["mid_fork"], ctx["trough_ref"], ctx["drop_ref"]
    mid = b["mid"]
    m: dict[str, float] = {}
    for s in (30, 60, 300):
        m[f"mid_{s}s_pct"] = 100 * (mid[s - 1] / pre - 1) if len(mid) >= s else math.nan
    sm = smooth(mid)   # extremes and first passages on the 15-s trailing median (see SMOOTH_S)
    w = sm[:300]
    full = bool(np.all(np.isfinite(mid[:300]))) and len(mid) >= 300
    m["further_dd_pct"] = 100 * max(0.0, mid_fork - float(np.min(w))) / pre if full else math.nan
    ok = full and drop >= MIN_DROP_PCT / 100 * pre
    m["retraced_max_5min"] = (float(np.max(w)) - trough) / drop if ok else math.nan
    m["retraced_at_5min"] = (float(mid[299]) - trough) / drop if ok else math.nan
    level = trough + 0.5 * drop
    if drop >= MIN_DROP_PCT / 100 * pre and mid_fork < level:
        hit = np.nonzero(sm >= level)[0]
        m["t50_s"] = float(hit[0] + 1) if len(hit) else float(np.sum(np.isfinite(mid)))
        m["t50_censored"] = float(len(hit) == 0)
    else:
        m["t50_s"] = m["t50_censored"] = math.nan
    r = reopen_s - 1
    depth, spread, halted = b["depth_bid_near"], b["spread_ticks"], b["halted"]
    m["mid_reopen_pct"] = 100 * (mid[r] / pre - 1)
    m["depth_reopen_frac"] = depth[r] / ctx["pre_depth"]
    m["spread_reopen_ticks"] = spread[r]
    win = slice(r, r + 60)
    live = halted[win] == 0
    m["depth_60s_frac"] = float(np.mean(depth[win][live])) / ctx["pre_depth"] if live.any() else math.nan
    sp = spread[win][live]
    m["spread_60s_ticks"] = float(np.nanmean(sp)) if np.any(np.isfinite(sp)) else math.nan
    m["halted_5min_s"] = float(np.nansum(halted[:300] > 0))
    q = b["seller_executed_qty"]
    m["seller_sold_5min"] = float(q[299] - ctx["seller_qty_fork"]) if full else math.nan
    return m


#: metric -> +1 when a higher value in the paused branch means the pause helped, -1 when lower
METRICS = {
    "mid_30s_pct": 1, "mid_60s_pct": 1, "mid_300s_pct": 1, "further_dd_pct": -1,
    "retraced_max_5min": 1, "retraced_at_5min": 1, "t50_s": -1, "mid_reopen_pct": 1,
    "depth_reopen_frac": 1, "spread_reopen_ticks": -1, "depth_60s_frac": 1, "spread_60s_ticks": -1,
    "seller_sold_5min": 0, "halted_5min_s": 0,
}
METRIC_TEXT = {
    "mid_30s_pct": "mid +30 s, % vs pre-shock", "mid_60s_pct": "mid +60 s, % vs pre-shock",
    "mid_300s_pct": "mid +5 min, % vs pre-shock", "further_dd_pct": "further drawdown within 5 min, % of pre-shock",
    "retraced_max_5min": "drop retraced within 5 min (max), fraction", "retraced_at_5min": "drop retraced at +5 min",
    "t50_s": "time to 50 % retracement, s (censored at horizon)", "mid_reopen_pct": "mid at reopening, %",
    "depth_reopen_frac": "bid depth at reopening / pre-shock", "spread_reopen_ticks": "spread at reopening, ticks",
    "depth_60s_frac": "bid depth, 60 s after reopening / pre-shock",
    "spread_60s_ticks": "spread, 60 s after reopening, ticks", "seller_sold_5min": "seller's fills within 5 min",
    "halted_5min_s": "halted seconds within 5 min",
}


# ------------------------------------------------------------------------------------ episodes

#: MarketParams overrides of every episode (``--no-reopen-restart``: the mechanism test); set by
#: main() before the worker pool forks
MARKET_OVERRIDES: dict = {}


def run_forks(setting: str, seed: int, horizon: int, pause_lengths: Sequence[int], dose_all: bool,
              keep_paths: bool = False) -> dict:
    """One stop_logic episode with every fork; returns per-fork rows (and paths if asked)."""
    scenario, over = SETTINGS[setting]
    p = scenario_params(scenario, **over, **MARKET_OVERRIDES)
    s0 = p.seller_start_s
    sim = MarketSim(p)
    sim.reset(np.random.default_rng(seed))
    rule = ExchangeRule("stop_logic")
    rule.reset(p)
    main = {k: np.empty(p.length_s) for k in KEYS}
    forks = []
    for t in range(p.length_s):
        n_before = rule.rule.triggers
        a = rule.act(sim)
        if rule.rule.triggers > n_before and t >= s0:
            forks.append(_fork(sim, rule, t, a, main, s0, horizon, pause_lengths,
                               dose=dose_all or not forks, keep=keep_paths and not forks))
        sim.step(a)
        record(sim, main, t)
    # validity: the driver is crash.py's, and each unchanged copy reproduced the original path
    ref = run_episode(p, seed, ExchangeRule("stop_logic"))
    assert np.array_equal(ref["mid"], main["mid"]), "driver differs from crash_lib.run_episode"
    for f in forks:
        a_path = f.pop("_A")
        n = int(np.sum(np.isfinite(a_path["mid"])))
        for k in KEYS:
            assert np.array_equal(a_path[k][:n], main[k][f["t"]:f["t"] + n], equal_nan=True), \
                f"fork at t={f['t']} (seed {seed}, {setting}): the unchanged copy left the original path ({k})"
        f["validity_checked_s"] = n
    out = {"setting": setting, "seed": seed, "forks": forks, "n_pauses_before_seller":
           int(np.sum(np.diff(np.concatenate([[0], main["halted"][:s0] > 0]).astype(int)) == 1))}
    if keep_paths:
        out["main_mid"] = main["mid"].tolist()
    return out


def _fork(sim, rule, t, a, main, s0, horizon, pause_lengths, dose, keep):
    """The branches of the fork at second ``t`` (the rule just returned ``a`` = PAUSE)."""
    assert a == PAUSE and not sim.halted
    pre = main["mid"][s0 - 1]
    mid_fork = main["mid"][t - 1]
    trough = float(min(np.min(main["mid"][s0 - 1:t]), mid_fork))
    ctx = {"pre_mid": pre, "mid_fork": mid_fork, "trough_ref": trough, "drop_ref": pre - trough,
           "pre_depth": max(float(np.mean(main["depth_bid_near"][s0 - 300:s0])), 1.0),
           "seller_qty_fork": main["seller_executed_qty"][t - 1]}
    base_len = sim.params.pause_s
    look = main["mid"][max(0, t - 16):t]
    row = {"t": t, "t_after_seller_s": t - s0, "direction": "down" if mid_fork <= float(np.max(look)) and
           mid_fork - float(np.min(look)) < float(np.max(look)) - mid_fork else "up",
           "drop_at_fork_pct": 100 * (1 - mid_fork / pre), "drop_ref_pct": 100 * ctx["drop_ref"] / pre}
    branches = {}
    branches["A"] = run_branch(fork_sim(sim), copy.deepcopy(rule), PAUSE, horizon)
    r1 = copy.deepcopy(rule)
    r1.rule.hold_until_s = -math.inf          # this pause suppressed; its look-back restarts as after one
    branches["B1"] = run_branch(fork_sim(sim), r1, CONTINUE, horizon)
    branches["B2"] = run_branch(fork_sim(sim), None, CONTINUE, horizon)
    lengths = sorted(set(pause_lengths) | {base_len}) if dose else [base_len]
    for L in lengths:
        c = fork_sim(sim)
        set_pause_length(c, L)
        branches[f"A0_{L}"] = run_branch(c, None, PAUSE, horizon)
    res = {"A": branch_metrics(branches["A"], ctx, base_len),
           "B1": branch_metrics(branches["B1"], ctx, base_len)}
    for L in lengths:
        res[f"A0_{L}"] = branch_metrics(branches[f"A0_{L}"], ctx, L)
        res[f"B2@{L}"] = branch_metrics(branches["B2"], ctx, L)   # B2 measured on A0_L's seconds
    row["metrics"] = res
    row["_A"] = branches["A"]
    if keep:
        row["paths"] = {k: v["mid"].tolist() for k, v in branches.items()}
        row["halted"] = {k: v["halted"].tolist() for k, v in branches.items()}
    return row


# ------------------------------------------------------------------------------------ statistics

def paired(rows: list[dict], a: str, b: str, metric: str) -> dict:
    """Paired difference a - b over the forks in ``rows`` where both are finite: mean, naive SE,
    SE clustered by episode, fraction where the pause (branch a) helped / hurt."""
    d, ea, eb, groups = [], [], [], []
    for r in rows:
        x, y = r["metrics"].get(a, {}).get(metric), r["metrics"].get(b, {}).get(metric)
        if x is None or y is None or not (math.isfinite(x) and math.isfinite(y)):
            continue
        d.append(x - y)
        ea.append(x)
        eb.append(y)
        groups.append((r["setting"], r["seed"]))
    n = len(d)
    if n == 0:
        return {"n": 0}
    arr = np.asarray(d)
    mean = float(arr.mean())
    se = float(arr.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    sums: dict = {}
    for g, x in zip(groups, arr - mean):
        sums[g] = sums.get(g, 0.0) + x
    g = len(sums)
    se_cl = float(math.sqrt(sum(v * v for v in sums.values()) * g / max(g - 1, 1)) / n) if g > 1 else math.nan
    sign = METRICS[metric]
    out = {"n": n, "episodes": g, "mean_a": float(np.mean(ea)), "mean_b": float(np.mean(eb)),
           "mean_diff": mean, "se": se, "se_clustered": se_cl, "median_diff": float(np.median(arr))}
    if sign:
        out["frac_helped"] = float(np.mean(sign * arr > 0))
        out["frac_hurt"] = float(np.mean(sign * arr < 0))
    return out


def _fmt(x, nd=3):
    return "" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{nd}g}"


def table(rows, contrasts, metrics, title) -> tuple[list[str], dict]:
    lines = [f"**{title}**", "", "| measure | contrast | n | paused | not paused | paired diff ± SE (clustered SE) "
             "| median diff | pause helped / hurt |", "|---|---|---|---|---|---|---|---|"]
    data = {}
    for metric in metrics:
        for label, (a, b) in contrasts.items():
            s = paired(rows, a, b, metric)
            data[f"{metric} | {label}"] = s
            if not s["n"]:
                continue
            hh = (f"{100 * s['frac_helped']:.0f} % / {100 * s['frac_hurt']:.0f} %" if "frac_helped" in s else "")
            lines.append(f"| {METRIC_TEXT[metric]} | {label} | {s['n']} | {_fmt(s['mean_a'])} | {_fmt(s['mean_b'])} "
                         f"| {s['mean_diff']:+.3g} ± {_fmt(s['se'], 2)} ({_fmt(s['se_clustered'], 2)}) "
                         f"| {s['median_diff']:+.3g} | {hh} |")
    return lines + [""], data


CONTRASTS = {"A - B1 (this pause, rule in force)": ("A", "B1"),
             "A0 - B2 (one pause, no other breaker)": ("A0_5", "B2@5"),
             "A - B2 (rule from here vs none)": ("A", "B2@5")}
HEAD_METRICS = ("mid_30s_pct", "mid_60s_pct", "mid_300s_pct", "further_dd_pct", "retraced_max_5min",
                "retraced_at_5min", "t50_s", "mid_reopen_pct", "depth_reopen_frac", "spread_reopen_ticks",
                "depth_60s_frac", "spread_60s_ticks", "seller_sold_5min", "halted_5min_s")


# ------------------------------------------------------------------------------------ plot

def plot(examples: list[dict], path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(examples), figsize=(5.2 * len(examples), 4.3), squeeze=False)
    styles = {"A": ("A: pause, rule stays", "C0", "-"), "B1": ("B1: this pause suppressed", "C1", "-"),
              "B2": ("B2: no breaker from here", "C3", "-"), "A0_5": ("A0: one 5-s pause, then none", "C2", "--"),
              "A0_30": ("one 30-s pause, then none", "C4", ":")}
    for ax, ex in zip(axes[0], examples):
        f = ex["fork"]
        t0, pre = f["t"], ex["pre_mid"]
        back = 240
        main = np.asarray(ex["main_mid"])
        tt = np.arange(t0 - back, t0) - t0 + 1
        ax.plot(tt, 100 * (main[t0 - back:t0] / pre - 1), color="k", lw=0.9, label="common path before the fork")
        for name, (label, color, ls) in styles.items():
            if name not in f["paths"]:
                continue
            y = np.asarray(f["paths"][name], dtype=float)
            x = np.arange(1, len(y) + 1)
            ax.plot(x, 100 * (y / pre - 1), color=color, ls=ls, lw=0.9, label=label)
            h = np.asarray(f["halted"][name], dtype=float) > 0
            if name in ("A", "A0_5") and h.any():
                ax.scatter(x[h], 100 * (y[h] / pre - 1), s=5, color="red", zorder=3)
        ax.axvline(0, color="grey", lw=0.6, ls=":")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_title(f"{ex['setting']} seed {ex['seed']}: first pause at t={t0} s", fontsize=9)
        ax.set_xlabel("seconds after the fork (red: halted)")
        ax.set_ylabel("mid, % vs pre-shock")
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------ main

def _job(args):
    return run_forks(*args)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=40)
    ap.add_argument("--first-seed", type=int, default=3000)
    ap.add_argument("--settings", default=",".join(SETTINGS), help=f"comma list of {list(SETTINGS)}")
    ap.add_argument("--horizon", type=int, default=360, help="seconds each branch runs after the fork")
    ap.add_argument("--pause-lengths", default="1,5,30,120", help="dose-response: single-pause lengths, s")
    ap.add_argument("--dose-all", action="store_true", help="dose-response branches at every fork "
                    "(default: first fork of each episode only)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--out", default="results/market/crash")
    ap.add_argument("--plots", type=int, default=3, help="first forks drawn in pause_causal_paths.png")
    ap.add_argument("--no-reopen-restart", action="store_true",
                    help="mechanism test: the algorithms' signals are measured across a pause, not restarted at "
                         "the reopening (MarketParams.reopen_signal_restart=False)")
    args = ap.parse_args(argv)
    if args.no_reopen_restart:
        MARKET_OVERRIDES["reopen_signal_restart"] = False
    settings = [s for s in args.settings.split(",") if s]
    lengths = [int(x) for x in args.pause_lengths.split(",") if x]
    jobs = [(s, args.first_seed + SEED_OFFSET[s] + k, args.horizon, lengths, args.dose_all,
             s == settings[0] and k < args.plots) for s in settings for k in range(args.seeds)]
    episodes = []
    if args.workers > 1:
        import multiprocessing as mp
        with mp.get_context("fork").Pool(args.workers) as pool:
            for ep in pool.imap(_job, jobs, chunksize=1):
                episodes.append(ep)
                print(ep["setting"], ep["seed"], "forks:", len(ep["forks"]), flush=True)
    else:
        for j in jobs:
            episodes.append(_job(j))
            print(j[0], j[1], "forks:", len(episodes[-1]["forks"]), flush=True)
    rows = []
    for ep in episodes:
        for i, f in enumerate(ep["forks"]):
            f.update(setting=ep["setting"], seed=ep["seed"], index=i, first=i == 0)
            rows.append(f)
    report(args, settings, lengths, episodes, rows)


def report(args, settings, lengths, episodes, rows):
    first = [r for r in rows if r["first"]]
    down = [r for r in rows if r["direction"] == "down"]
    cmd = (f".venv/bin/python experiments/market/pause_causal.py --seeds {args.seeds} --first-seed {args.first_seed} "
           f"--settings {','.join(settings)} --horizon {args.horizon} --pause-lengths {args.pause_lengths}"
           f"{' --dose-all' if args.dose_all else ''}{' --no-reopen-restart' if args.no_reopen_restart else ''} "
           f"--workers {args.workers} --out {args.out}")
    n_checked = sum(r["validity_checked_s"] for r in rows)
    seeds = {s: [args.first_seed + SEED_OFFSET[s], args.first_seed + SEED_OFFSET[s] + args.seeds - 1] for s in settings}
    lines = ["# Does the 5-second pause cause the rebound? (issue 8, must-show 2)", "",
             f"Paired fork test with common random numbers (method in the docstring of "
             f"`experiments/market/pause_causal.py`). Settings {settings} (the regulator's test grid without `news`), "
             f"{args.seeds} seeds each: " + ", ".join(f"{s} {a}..{b}" for s, (a, b) in seeds.items())
             + "; `stop_logic` (1.5 % move within 15 s -> 5-s reserved state), "
             f"branches run {args.horizon} s after the fork. Command: `{cmd}`.", "",
             *(["**Mechanism test**: `reopen_signal_restart=False` -- the algorithms' signals (momentum look-back, "
                "makers' stress, noise withdrawal) are measured across a pause instead of restarting at the "
                "reopening; everything else as in the published run.", ""] if args.no_reopen_restart else []),
             f"Validity check (asserted): at every one of the {len(rows)} forks the unchanged copy (branch A) "
             f"reproduced the original path bit for bit ({n_checked} seconds compared); the driver's path equals "
             f"`crash_lib.run_episode`'s on every episode. (A fork is `copy.deepcopy` of the `MarketSim`, whose "
             "`__deepcopy__` re-links its row views to the copied batch, and of the rule.)", "",
             f"Forks: {len(rows)} pauses after the seller's start in {len(episodes)} episodes "
             f"({len(first)} first pauses; {len(down)} forks on a falling price, "
             f"{len(rows) - len(down)} on a rising one). "
             "Branches: A = pause, rule stays; B1 = this pause suppressed, rule stays; B2 = no breaker from the fork; "
             "A0 = one 5-s pause then no breaker. Differences are paused minus not paused; SE naive "
             "(clustered by episode in brackets); 'helped' = the paused branch is better on that measure "
             "(higher price / depth / retracement, lower drawdown / spread / time).", ""]
    data: dict = {"command": cmd, "settings": settings, "seeds": seeds,
                  "horizon_s": args.horizon, "pause_lengths": lengths, "n_forks": len(rows),
                  "n_first_forks": len(first), "n_down_forks": len(down), "validity_seconds_compared": n_checked,
                  "tables": {}}
    for title, sel in (("First pause of each episode, all settings", first),
                       ("Every pause after the seller's start, falling price, all settings", down)):
        t, d = table(sel, CONTRASTS, HEAD_METRICS, title)
        lines += t
        data["tables"][title] = d
    # per setting: the headline measures
    for title, sel_fn in (("First pause, per setting", lambda s: [r for r in first if r["setting"] == s]),
                          ("Every falling-price pause, per setting", lambda s: [r for r in down if r["setting"] == s]),
                          ("Every rising-price pause (Stop Logic also pauses rallies), per setting",
                           lambda s: [r for r in rows if r["setting"] == s and r["direction"] == "up"])):
        lines += [f"**{title}** (A0 - B2: one 5-s pause vs none; A - B1: this pause, rule in force)", "",
                  "| setting | contrast | n | mid +60 s diff | mid +5 min diff | retraced within 5 min diff "
                  "| further drawdown diff | pause helped (mid +5 min) |", "|---|---|---|---|---|---|---|---|"]
        for s in settings:
            sel = sel_fn(s)
            for label, (a, b) in list(CONTRASTS.items())[:2]:
                st = {m: paired(sel, a, b, m) for m in ("mid_60s_pct", "mid_300s_pct", "retraced_max_5min",
                                                          "further_dd_pct")}
                data["tables"].setdefault(title, {})[f"{s} | {label}"] = st
                if not st["mid_300s_pct"]["n"]:
                    continue
                cells = [f"{st[m]['mean_diff']:+.3g} ± {_fmt(st[m]['se_clustered'], 2)}" if st[m]["n"] else ""
                         for m in ("mid_60s_pct", "mid_300s_pct", "retraced_max_5min", "further_dd_pct")]
                lines.append(f"| {s} | {label.split(' (')[0]} | {st['mid_300s_pct']['n']} | " + " | ".join(cells)
                             + f" | {100 * st['mid_300s_pct']['frac_helped']:.0f} % |")
        lines.append("")
    # dose-response
    dose_sets = ((("falling-price pauses", [r for r in down if "A0_1" in r["metrics"]]),) if args.dose_all else ())
    dose_sets += (("first pause of each episode", first),)
    for what, sel in dose_sets:
        lines += [f"**Dose-response: one pause of L seconds, then no breaker, vs no breaker (A0_L - B2)**, {what}, "
                  "all settings; depth and spread on the 60 s after that pause's reopening in both branches "
                  "(during a pause the mid is the indicative price)", "",
                  "| L, s | n | mid +30 s | mid +60 s | mid +5 min | further drawdown | retraced within 5 min "
                  "| bid depth 60 s | spread 60 s | helped (mid +5 min) |", "|---|---|---|---|---|---|---|---|---|---|"]
        for L in sorted(set(lengths) | {5}):
            ms = ("mid_30s_pct", "mid_60s_pct", "mid_300s_pct", "further_dd_pct", "retraced_max_5min",
                  "depth_60s_frac", "spread_60s_ticks")
            st = {m: paired(sel, f"A0_{L}", f"B2@{L}", m) for m in ms}
            data["tables"].setdefault(f"dose_response, {what}", {})[str(L)] = st
            if not st["mid_300s_pct"]["n"]:
                continue
            cells = [f"{st[m]['mean_diff']:+.3g} ± {_fmt(st[m]['se_clustered'], 2)}" if st[m]["n"] else ""
                     for m in ms]
            lines.append(f"| {L} | {st['mid_300s_pct']['n']} | " + " | ".join(cells)
                         + f" | {100 * st['mid_300s_pct']['frac_helped']:.0f} % |")
        lines.append("")
    answer, data["answer"] = answer_section(rows, first, down, lengths, args)
    lines += answer
    data["forks_per_episode"] = {f"{e['setting']}:{e['seed']}": len(e["forks"]) for e in episodes}
    data["pauses_before_seller"] = {f"{e['setting']}:{e['seed']}": e["n_pauses_before_seller"] for e in episodes}
    os.makedirs(args.out, exist_ok=True)
    atomic_write(os.path.join(args.out, "pause_causal.json"), json.dumps(_clean(data), indent=1))
    flat = []
    for r in rows:
        for br, m in r["metrics"].items():
            flat.append({"setting": r["setting"], "seed": r["seed"], "fork": r["index"], "t": r["t"],
                         "direction": r["direction"], "drop_at_fork_pct": round(r["drop_at_fork_pct"], 4),
                         "branch": br, **{k: f"{v:.4g}" if math.isfinite(v) else "" for k, v in m.items()}})
    atomic_write(os.path.join(args.out, "pause_causal_forks.csv.gz"), gzip.compress(csv_text(flat).encode(), mtime=0))
    examples = [{"setting": e["setting"], "seed": e["seed"], "main_mid": e["main_mid"], "fork": e["forks"][0],
                 "pre_mid": e["main_mid"][scenario_params(SETTINGS[e["setting"]][0]).seller_start_s - 1]}
                for e in episodes if "main_mid" in e and e["forks"]]
    if examples:
        plot(examples, os.path.join(args.out, "pause_causal_paths.png"))
        lines += ["Paired paths of three first forks: `pause_causal_paths.png`. Per fork and branch: "
                  "`pause_causal_forks.csv.gz`.", ""]
    atomic_write(os.path.join(args.out, "pause_causal.md"), "\n".join(lines))
    print("\n".join(lines))


def _d(s: dict, nd=2) -> str:
    """'+x ± se' (clustered SE) of a paired() result."""
    if not s.get("n"):
        return "n/a"
    return f"{s['mean_diff']:+.{nd}f} ± {s['se_clustered']:.{nd}f}"


def answer_section(rows, first, down, lengths, args) -> tuple[list[str], dict]:
    """The answer in numbers (every figure computed here), then what the kernel does during a halt
    (read from ``populations.py`` / ``book.py``), for reading them."""
    up = [r for r in rows if r["direction"] == "up"]
    P = {}
    for name, sel in (("first", first), ("down", down), ("up", up)):
        for c, (a, b) in (("A0-B2", ("A0_5", "B2@5")), ("A-B1", ("A", "B1")), ("A-B2", ("A", "B2@5"))):
            for m in ("mid_60s_pct", "mid_300s_pct", "further_dd_pct", "retraced_max_5min", "t50_s",
                      "halted_5min_s", "spread_60s_ticks"):
                P[f"{name} {c} {m}"] = paired(sel, a, b, m)
    b2_retr = [r["metrics"]["B2@5"]["retraced_max_5min"] for r in first
               if math.isfinite(r["metrics"]["B2@5"]["retraced_max_5min"])]
    a_retr = [r["metrics"]["A"]["retraced_max_5min"] for r in first
              if math.isfinite(r["metrics"]["A"]["retraced_max_5min"])]
    dsel = down if args.dose_all else first
    f = P["first A0-B2 mid_300s_pct"]
    g = P["first A0-B2 mid_60s_pct"]
    lines = ["## Does the pause cause the rebound?", "",
             "Paired differences, paused minus not paused, percentage points of the pre-shock mid "
             "(± SE clustered by episode):", "",
             f"* **One 5-s pause, no other breaker (A0 - B2), first pause of each episode** (n = {f.get('n', 0)}): "
             f"mid +60 s {_d(g)} (pause higher on {100 * g.get('frac_helped', 0):.0f} % of forks), mid +5 min "
             f"{_d(f)} (higher on {100 * f.get('frac_helped', 0):.0f} %), further drawdown within 5 min "
             f"{_d(P['first A0-B2 further_dd_pct'])}, drop retraced within 5 min "
             f"{_d(P['first A0-B2 retraced_max_5min'])}, time to 50 % retracement "
             f"{_d(P['first A0-B2 t50_s'], 0)} s, spread over the 60 s after reopening "
             f"{_d(P['first A0-B2 spread_60s_ticks'], 1)} ticks.",
             f"* Same contrast over every falling-price pause (n = {P['down A0-B2 mid_300s_pct'].get('n', 0)}): "
             f"mid +60 s {_d(P['down A0-B2 mid_60s_pct'])}, mid +5 min {_d(P['down A0-B2 mid_300s_pct'])}, "
             f"further drawdown {_d(P['down A0-B2 further_dd_pct'])}.",
             f"* **The rule from the fork on (A - B2)**, every falling-price pause: mid +5 min "
             f"{_d(P['down A-B2 mid_300s_pct'])}, drop retraced within 5 min {_d(P['down A-B2 retraced_max_5min'])}, "
             f"time to 50 % retracement {_d(P['down A-B2 t50_s'], 0)} s; the rule halts "
             f"{P['down A-B2 halted_5min_s'].get('mean_a', math.nan):.0f} of the next 300 s on average.",
             f"* **This pause alone, the rule otherwise in force (A - B1)**, every falling-price pause: mid +60 s "
             f"{_d(P['down A-B1 mid_60s_pct'])}, mid +5 min {_d(P['down A-B1 mid_300s_pct'])} (higher on "
             f"{100 * P['down A-B1 mid_300s_pct'].get('frac_helped', 0):.0f} %): with this pause suppressed the "
             f"rule still halts {P['down A-B1 halted_5min_s'].get('mean_b', math.nan):.0f} of the next 300 s "
             f"(against {P['down A-B1 halted_5min_s'].get('mean_a', math.nan):.0f}).",
             f"* **The rebound without the pause**: from the first fork on with no breaker (B2) the drop retraced "
             f"within 5 min is {np.mean(b2_retr) if b2_retr else math.nan:.2f} on average, >= 50 % on "
             f"{100 * np.mean(np.asarray(b2_retr) >= 0.5) if b2_retr else math.nan:.0f} % of episodes "
             f"(under the rule, A: {np.mean(a_retr) if a_retr else math.nan:.2f}, >= 50 % on "
             f"{100 * np.mean(np.asarray(a_retr) >= 0.5) if a_retr else math.nan:.0f} %).",
             f"* **Pauses of rallies**: {len(up)} of {len(rows)} pauses came on a rising price (Stop Logic is "
             f"symmetric); one such pause (A0 - B2) moves the mid +60 s by {_d(P['up A0-B2 mid_60s_pct'])} and "
             f"+5 min by {_d(P['up A0-B2 mid_300s_pct'])}.",
             f"* **Dose-response** (A0_L - B2, {'falling-price' if args.dose_all else 'first'} pauses): mid +5 min "
             + ", ".join(f"{L} s: {_d(paired(dsel, f'A0_{L}', f'B2@{L}', 'mid_300s_pct'))}"
                         for L in sorted(set(lengths) | {5})) + "; mid +60 s "
             + ", ".join(f"{L} s: {_d(paired(dsel, f'A0_{L}', f'B2@{L}', 'mid_60s_pct'))}"
                         for L in sorted(set(lengths) | {5})) + "; further drawdown "
             + ", ".join(f"{L} s: {_d(paired(dsel, f'A0_{L}', f'B2@{L}', 'further_dd_pct'))}"
                         for L in sorted(set(lengths) | {5})) + ".",
             "",
             "What the kernel does during a pause (`feedbackgym/envs/market/populations.py`, `book.py`), for "
             "reading these numbers: market and IOC orders are void, so the momentum traders, the stop cascades, "
             "the makers' inventory dumps and the POV seller stop for the pause (the seller does not catch up on "
             "the paused seconds, but its trailing-volume window then contains the reopening print); the makers "
             "cancel every quote and stand aside; limit orders keep arriving and rest (more bid depth at the "
             "reopening); at the reopening every signal restarts from the reopening price (momentum look-back, "
             "makers' stress, noise traders' withdrawal). The recovery itself comes from the deep-value buyers "
             "(4 % or more below the fundamental, which the seller does not move) and the fundamental traders: "
             "they react to price against value, not to halts, so a pause adds no buyer; it can only interrupt "
             "the selling loop for a while. During a pause the mid is the indicative auction price, so for "
             "pauses of 30 s or more the +30 s and +60 s mids are indicative prices, not trades.", ""]
    return lines, {k: v for k, v in P.items()}


def _clean(x):
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


if __name__ == "__main__":
    main()
