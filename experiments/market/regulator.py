"""Trained regulators against the circuit-breaker rules (issue 8, must-show 3).

Stages (each reads what the previous wrote, so they can be rerun one by one):

    .venv/bin/python experiments/market/regulator.py train --algo ppo --name ppo5 --no-copy \
        --hyperparams experiments/market/regulator_ppo.yml                # -> runs/market_regulator_ppo5
    .venv/bin/python experiments/market/regulator.py train --algo ppo --name ppo4 --no-copy \
        --hyperparams experiments/market/regulator_ppo_sl.yml             # -> runs/market_regulator_ppo4
    .venv/bin/python experiments/market/regulator.py train --algo dqn --name dqn3 --no-copy \
        --hyperparams experiments/market/regulator_dqn.yml                # -> runs/market_regulator_dqn3
    .venv/bin/python experiments/market/regulator.py select --run runs/market_regulator_ppo5 --name ppo
    .venv/bin/python experiments/market/regulator.py select --run runs/market_regulator_ppo4 --name ppo_sl
    .venv/bin/python experiments/market/regulator.py select --run runs/market_regulator_dqn3 --name dqn
    .venv/bin/python experiments/market/regulator.py evaluate             # every policy on the test grid
    .venv/bin/python experiments/market/regulator.py report               # table + plots

``train`` runs ``feedbackgym train`` with the packaged hyperparameters (the
``feedbackgym/FlashCrashRegulator-v0`` blocks of feedbackgym/agents/hyperparams/ppo.yml and dqn.yml)
or ``--hyperparams FILE`` (the recipes of experiments/market/regulator_*.yml) and copies the run's
best model to results/market/models/ unless ``--no-copy``. ``select`` plays every checkpoint of a
run on the validation seeds (from 20,000) of the test settings and copies the one with the lowest
composite loss among those that never halt on a validation news day (if none: the fewest news-day
halts) to results/market/models/regulator_<name>.zip. ``evaluate`` plays ``none``, every rule, the
behaviour-cloning teacher (``TEACHERS``, not a rule in force)
and the models on held-out seeds (from 10,000; training draws its episodes from seeds 0..n_envs-1
and their continuations) and on seller sizes never trained on (``TEST_SETTINGS``), writing one
JSON of per-episode records per policy to results/market/regulator/raw/. ``report`` turns them
into results/market/regulator/{table.md,summary.json,*.png}.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from feedbackgym.files import atomic_write


def _save_png(fig, path: Path, dpi: int) -> None:
    """A figure written atomically: a killed report never leaves a truncated plot."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    atomic_write(path, buf.getvalue())

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

ENV_ID = "feedbackgym/FlashCrashRegulator-v0"
RESULTS = ROOT / "results" / "market" / "regulator"
MODELS = ROOT / "results" / "market" / "models"
RULES = ("none", "stop_logic", "dynamic_cb", "luld", "mwcb")
#: the regulators' behaviour-cloning teacher: a rule of breakers.py, shown beside the rules in force
#: but never the "best static rule" of the target
TEACHERS = ("stop_logic_liquidity",)
TEST_SEED = 10_000
VALIDATION_SEED = 20_000
#: the held-out test grid: name -> env config overrides (training draws seller sizes uniformly
#: from 3,000-12,000 contracts, see the hyperparameters' env_kwargs; 15,000 is outside that range)
TEST_SETTINGS = {
    "flash_crash": {"scenario": "flash_crash"},                                  # 9,000 contracts
    "flash_crash_15000": {"scenario": "flash_crash", "market": {"seller_size": 15000}},
    "mini_crash": {"scenario": "mini_crash"},                                    # 3,000 contracts
    "news": {"scenario": "news"},                                                # a true 4 % drop
}
#: how the models act: every 5 simulated seconds (as trained); the rules act every second
MODEL_ENV_KWARGS = {"decision_s": 5, "liquidity_features": True}


def _models() -> dict[str, Path]:
    return {p.stem[len("regulator_"):]: p for p in sorted(MODELS.glob("regulator_*.zip"))}


# --------------------------------------------------------------------------------------- train


def train(algo: str, timesteps: int | None, seed: int, resume: bool = False, hyperparams: str | None = None,
          name: str | None = None, copy: bool = True) -> None:
    import torch

    from feedbackgym.agents.train import train as run_training

    torch.set_num_threads(1)
    name = name or algo
    run = ROOT / "runs" / f"market_regulator_{name}"
    path = run_training(ENV_ID, algo, timesteps=timesteps, seed=seed, run_dir=run, progress_bar=False, resume=resume,
                        hyperparams=hyperparams)
    best = path / "best_model.zip"
    src = best if best.is_file() else path / "model.zip"
    if copy:
        MODELS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, MODELS / f"regulator_{name}.zip")
    if (path / "evaluations.csv").is_file():
        shutil.copyfile(path / "evaluations.csv", RESULTS / f"learning_curve_{name}.csv")
    from feedbackgym.files import atomic_write
    atomic_write(RESULTS / f"training_{name}.json", json.dumps(
        {"run": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path), "model": src.name,
         "sim_version": sim_version()}, indent=2) + "\n")
    print(f"copied {src} -> {MODELS / f'regulator_{name}.zip'}" if copy else f"trained {path}")


# ------------------------------------------------------------------------------------ evaluate


def _play(job):
    """One policy on one test setting: per-episode records plus the mid path of the first episode."""
    policy_name, setting, seeds, env_kwargs = job
    import gymnasium as gym
    import torch

    import feedbackgym  # noqa: F401
    from feedbackgym.agents.policy import make_policy
    from feedbackgym.agents.rollout import run_episode
    from feedbackgym.family import PlannedEpisode

    torch.set_num_threads(1)
    env = gym.make(ENV_ID, **{**env_kwargs, **TEST_SETTINGS[setting]})
    if policy_name in TEACHERS:
        from feedbackgym.agents.baselines.market import BreakerPolicy
        policy = BreakerPolicy(policy_name)
    else:
        policy = make_policy(ENV_ID, policy_name, env)
    records, path = [], None
    for k, seed in enumerate(seeds):
        rows = [] if k == 0 else None
        rec = run_episode(env, policy, PlannedEpisode(seed, {}, f"{setting}/seed {seed}"), k, rows=rows)
        rec["setting"] = setting
        records.append(rec)
        if rows is not None:
            path = {"time_s": [r["time_s"] for r in rows], "mid": [r["mid"] for r in rows],
                    "fundamental": [r["fundamental"] for r in rows], "halted": [r["halted"] for r in rows]}
    env.close()
    return policy_name, setting, records, path


def sim_version() -> str:
    """The last commit of the market package (and whether the tree differs from it)."""
    import subprocess
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    commit = git("log", "-1", "--format=%h", "--", "feedbackgym/envs/market")
    dirty = git("status", "--porcelain", "--", "feedbackgym/envs/market")
    return commit + (" + uncommitted changes" if dirty else "")


def evaluate(seeds: int, workers: int, only: list[str] | None) -> None:
    from feedbackgym.files import atomic_write

    policies = {r: ({}, r) for r in RULES + TEACHERS}
    for name, path in _models().items():
        policies[name] = (MODEL_ENV_KWARGS, str(path))
    if only:
        policies = {k: v for k, v in policies.items() if k in only}
    seed_list = list(range(TEST_SEED, TEST_SEED + seeds))
    jobs = [(spec, setting, seed_list, kw) for name, (kw, spec) in policies.items() for setting in TEST_SETTINGS]
    names = {spec: name for name, (kw, spec) in policies.items()}
    out: dict[str, dict] = {name: {"records": [], "paths": {}} for name in policies}
    with get_context("spawn").Pool(workers) as pool:
        for spec, setting, records, path in pool.imap_unordered(_play, jobs):
            name = names[spec]
            out[name]["records"].extend(records)
            out[name]["paths"][setting] = path
            print(f"{name:11s} {setting:17s} composite loss {np.mean([r['composite_loss'] for r in records]):.4f} "
                  f"halted {np.mean([r['halted_s'] for r in records]):.0f} s", flush=True)
    raw = RESULTS / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, data in out.items():
        data["policy"] = name
        data["env_kwargs"] = policies[name][0]
        data["seeds"] = seed_list
        data["sim_version"] = sim_version()
        atomic_write(raw / f"{name}.json", json.dumps(data, allow_nan=True) + "\n")


# -------------------------------------------------------------------------------------- select


def select(run: str, name: str, seeds: int, workers: int) -> None:
    """Validation selection of a run's checkpoints (see the module docstring)."""
    from feedbackgym.files import atomic_write

    run_dir = Path(run) if Path(run).is_absolute() else ROOT / run
    candidates = sorted(run_dir.glob("checkpoints/step_*/model.zip"))
    candidates += [p for p in (run_dir / "best_model.zip", run_dir / "model.zip") if p.is_file()]
    if not candidates:
        raise SystemExit(f"select: no model in {run_dir}")
    seed_list = list(range(VALIDATION_SEED, VALIDATION_SEED + seeds))
    jobs = [(str(c), setting, seed_list, MODEL_ENV_KWARGS) for c in candidates for setting in TEST_SETTINGS]
    recs: dict[str, list] = {str(c): [] for c in candidates}
    with get_context("spawn").Pool(workers) as pool:
        for spec, _setting, records, _ in pool.imap_unordered(_play, jobs):
            recs[spec].extend(records)
    rows = []
    for c in candidates:
        r = recs[str(c)]
        rows.append({"model": str(c.relative_to(ROOT)) if c.is_relative_to(ROOT) else str(c),
                     "composite_loss": _mean(r, "composite_loss"), "halted_s": _mean(r, "halted_s"),
                     "news_halts": _mean(r, "n_halts", "news"),
                     **{f"loss_{k}": _mean(r, "composite_loss", k) for k in TEST_SETTINGS}})
    chosen = min(rows, key=lambda x: (x["news_halts"] > 0, x["news_halts"], x["composite_loss"]))
    src = ROOT / chosen["model"] if not Path(chosen["model"]).is_absolute() else Path(chosen["model"])
    MODELS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, MODELS / f"regulator_{name}.zip")
    if (run_dir / "evaluations.csv").is_file():
        shutil.copyfile(run_dir / "evaluations.csv", RESULTS / f"learning_curve_{name}.csv")
    atomic_write(RESULTS / f"selection_{name}.json", json.dumps(
        {"run": rows[0]["model"].split("/checkpoints")[0], "validation_seeds": seed_list, "settings": TEST_SETTINGS,
         "rule": "lowest composite loss among the models with no halt on a validation news day "
                 "(else the fewest news-day halts)", "candidates": rows, "chosen": chosen["model"],
         "sim_version": sim_version()}, indent=2, allow_nan=True) + "\n")
    for x in rows:
        print(f"{'*' if x is chosen else ' '} {x['model']:60s} loss {x['composite_loss']:.4f} "
              f"halted {x['halted_s']:6.1f} s news halts {x['news_halts']:.2f}", flush=True)
    print(f"copied {src} -> {MODELS / f'regulator_{name}.zip'}")


# -------------------------------------------------------------------------------------- report

COLUMNS = ("composite_loss", "max_drawdown_pct", "retrace_50_s", "halted_s", "n_halts", "spread_stress_ticks",
           "mean_dislocation_pct")


def _mean(records, key, setting=None):
    v = [r[key] for r in records if setting is None or r["setting"] == setting]
    return float(np.mean(v)) if v else math.nan


def report() -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from feedbackgym.files import atomic_write

    raw = {p.stem: json.loads(p.read_text()) for p in sorted((RESULTS / "raw").glob("*.json"))}
    order = ([p for p in RULES if p in raw] + [p for p in TEACHERS if p in raw]
             + [p for p in raw if p not in RULES and p not in TEACHERS])
    settings = list(TEST_SETTINGS)
    summary = {"seeds": raw[order[0]]["seeds"], "settings": TEST_SETTINGS, "policies": {},
               "sim_version": {p: raw[p].get("sim_version") for p in order}}
    for p in order:
        recs = raw[p]["records"]
        summary["policies"][p] = {
            "overall": {c: _mean(recs, c) for c in COLUMNS},
            "by_setting": {s: {c: _mean(recs, c, s) for c in COLUMNS} for s in settings},
        }
    rules = [p for p in order if p in RULES and p != "none"]
    best_rule = min(rules, key=lambda p: summary["policies"][p]["overall"]["composite_loss"])
    summary["best_rule"] = best_rule
    verdicts = {}
    for agent in (p for p in order if p not in RULES and p not in TEACHERS):
        a, b = summary["policies"][agent]["overall"], summary["policies"][best_rule]["overall"]
        news_a = summary["policies"][agent]["by_setting"]["news"]["n_halts"]
        luld = summary["policies"].get("luld")
        news_l = luld["by_setting"]["news"]["n_halts"] if luld is not None else math.nan
        verdicts[agent] = {
            "loss_reduction_vs_best_rule": 1.0 - a["composite_loss"] / b["composite_loss"],
            "halted_s_agent": a["halted_s"], "halted_s_best_rule": b["halted_s"],
            "news_halts_agent": news_a, "news_halts_luld": news_l,
            "target_met": bool(1.0 - a["composite_loss"] / b["composite_loss"] >= 0.25
                               and a["halted_s"] <= b["halted_s"] and news_a <= news_l),
        }
    summary["verdicts"] = verdicts

    lines = [f"# Regulators on held-out seeds ({len(summary['seeds'])} per setting, from {summary['seeds'][0]})", "",
             "Mean per episode (an hour; the shock after 15 minutes). Rules act every second, models every 5 s. "
             "Lower is better except where noted. `stop_logic_liquidity` is the models' behaviour-cloning "
             "teacher (Stop Logic gated on liquidity-crash signs), not a rule in force: it is shown, never "
             "taken as the best static rule.", "",
             "## Composite loss by setting", "",
             "| policy | " + " | ".join(settings) + " | all |", "|---" * (len(settings) + 2) + "|"]
    for p in order:
        s = summary["policies"][p]
        lines.append(f"| {p} | " + " | ".join(f"{s['by_setting'][k]['composite_loss']:.4f}" for k in settings)
                     + f" | {s['overall']['composite_loss']:.4f} |")
    lines += ["", "## All settings", "", "| policy | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for p in order:
        o = summary["policies"][p]["overall"]
        lines.append(f"| {p} | " + " | ".join(f"{o[c]:.4g}" for c in COLUMNS) + " |")
    for k in settings:
        lines += ["", f"## {k}", "", "| policy | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
        for p in order:
            o = summary["policies"][p]["by_setting"][k]
            lines.append(f"| {p} | " + " | ".join(f"{o[c]:.4g}" for c in COLUMNS) + " |")
    versions = sorted(set(summary["sim_version"].values()), key=str)
    lines += ["", f"Best static rule by composite loss: **{best_rule}**. Simulator: market package at "
              f"{', '.join(map(str, versions))}.", ""]
    for agent, v in verdicts.items():
        lines.append(f"- {agent}: {100 * v['loss_reduction_vs_best_rule']:.1f} % lower composite loss than {best_rule} "
                     f"(target >= 25 %), halted {v['halted_s_agent']:.0f} s vs {v['halted_s_best_rule']:.0f} s per "
                     f"episode, halts on news days {v['news_halts_agent']:.2f} vs luld {v['news_halts_luld']:.2f}: "
                     f"target {'met' if v['target_met'] else 'NOT met'}.")
    atomic_write(RESULTS / "table.md", "\n".join(lines) + "\n")
    atomic_write(RESULTS / "summary.json", json.dumps(summary, indent=2, allow_nan=True) + "\n")

    # composite loss by setting and policy
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(order)
    for j, p in enumerate(order):
        ax.bar(np.arange(len(settings)) + j * width, [summary["policies"][p]["by_setting"][k]["composite_loss"]
                                                      for k in settings], width, label=p)
    ax.set_xticks(np.arange(len(settings)) + 0.4 - width / 2)
    ax.set_xticklabels(settings)
    ax.set_ylabel("composite loss (mean per second)")
    ax.legend(ncol=4, fontsize=8)
    fig.tight_layout()
    _save_png(fig, RESULTS / "composite_loss.png", dpi=120)
    plt.close(fig)

    # price paths of the first test seed of each setting
    fig, axes = plt.subplots(len(settings), 1, figsize=(9, 2.6 * len(settings)), sharex=True)
    for ax, k in zip(np.atleast_1d(axes), settings):
        drawn_f = False
        for p in order:
            path = raw[p]["paths"].get(k)
            if not path:
                continue
            t = np.asarray(path["time_s"]) / 60.0
            line, = ax.plot(t, path["mid"], lw=0.8, label=p)
            h = np.asarray(path["halted"]) > 0
            if h.any():
                ax.fill_between(t, np.nanmin(path["mid"]), np.nanmax(path["mid"]), where=h, color=line.get_color(),
                                alpha=0.12, lw=0)
            if not drawn_f:
                ax.plot(t, path["fundamental"], "k--", lw=0.8, label="fundamental")
                drawn_f = True
        ax.set_title(f"{k}, seed {summary['seeds'][0]} (shaded: halted)", fontsize=9)
        ax.set_ylabel("mid")
    np.atleast_1d(axes)[0].legend(ncol=4, fontsize=7)
    np.atleast_1d(axes)[-1].set_xlabel("minutes")
    fig.tight_layout()
    _save_png(fig, RESULTS / "price_paths.png", dpi=110)
    plt.close(fig)
    print((RESULTS / "table.md").read_text())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="stage", required=True)
    t = sub.add_parser("train")
    t.add_argument("--algo", choices=("ppo", "dqn"), required=True)
    t.add_argument("--timesteps", type=int, default=None)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--resume", action="store_true", help="continue runs/market_regulator_<name> up to --timesteps")
    t.add_argument("--hyperparams", default=None, help="hyperparameter file (default: the packaged one)")
    t.add_argument("--name", default=None, help="model name (default: the algorithm)")
    t.add_argument("--no-copy", action="store_true", help="leave the model in the run folder (for 'select')")
    e = sub.add_parser("evaluate")
    e.add_argument("--seeds", type=int, default=8)
    e.add_argument("--workers", type=int, default=2)
    e.add_argument("--only", default=None, help="comma-separated policies (default: all rules and models)")
    sel = sub.add_parser("select")
    sel.add_argument("--run", required=True, help="run folder (runs/market_regulator_<name>)")
    sel.add_argument("--name", required=True, help="model name: results/market/models/regulator_<name>.zip")
    sel.add_argument("--seeds", type=int, default=4, help="validation seeds per setting (from 20000)")
    sel.add_argument("--workers", type=int, default=2)
    sub.add_parser("report")
    args = ap.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.stage == "train":
        train(args.algo, args.timesteps, args.seed, args.resume, args.hyperparams, args.name, not args.no_copy)
    elif args.stage == "select":
        select(args.run, args.name, args.seeds, args.workers)
    elif args.stage == "evaluate":
        evaluate(args.seeds, args.workers, args.only.split(",") if args.only else None)
    else:
        report()


if __name__ == "__main__":
    main()
