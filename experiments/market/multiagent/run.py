"""Multi-agent flash crash: learning makers plus a learning regulator vs rule-based makers and Stop Logic.

Issue 9's multi-agent experiment on the PettingZoo view (``feedbackgym.envs.market.multiagent``).
Does the crash of the ``flash_crash`` scenario (a 9,000-contract POV seller at 9 % of the trailing
minute's volume) get worse or better when 3 of its 10 inventory-capped market makers and the
exchange's circuit breaker are learners instead of rules?

Stages (each reads what the previous wrote):

    nice -n 5 .venv/bin/python experiments/market/multiagent/run.py train       # SB3 recipe -> models/
    nice -n 5 .venv/bin/python experiments/market/multiagent/run.py evaluate    # held-out seeds -> raw/
    .venv/bin/python experiments/market/multiagent/run.py report                # table.md, summary.json, plots
    .venv-ray/bin/python experiments/market/multiagent/run.py rllib --timesteps 20000   # the RLlib recipe

``train``: independent learners on stable-baselines3 (``feedbackgym.envs.market.multiagent_training``): one PPO
for the makers (parameter-shared across the 3 agent makers through SuperSuit) and one for the
regulator, each first cloned from its rule (``clone_rules``: the rule maker, Stop Logic), then
taking turns (``train_independent``), each trained against the other held fixed. One torch thread.
``evaluate`` plays every arm on held-out seeds
(from 20,000; training used seeds below 10,000). Arms (``ARMS``):

* ``rule_makers+stop_logic``  -- the scenario as published: 10 rule makers (the kernel's), Stop Logic every second;
* ``rule_makers+none``        -- the same without a breaker (context);
* ``rule_agents+stop_logic``  -- 7 kernel rule makers + 3 agent slots driven by the rule maker on the
  agents' menu (``RuleMaker``): what the agent-maker mechanics alone change;
* ``learned_makers+learned_regulator`` -- 7 rule makers + the 3 learned makers + the learned regulator;
* ``learned_makers+stop_logic`` -- the learned makers under Stop Logic (every 5 s, the learners' step);
* ``rule_makers+learned_regulator`` -- 10 rule makers under the learned regulator;
* ``rule_agents+stop_logic_5s`` / ``rule_agents+learned_regulator`` -- controls at the learners' 5-s
  step: the 3 agent slots on the rule maker, under Stop Logic or the learned regulator.

``report`` compares arms by seed (``PAIRS``: each isolates one change).

``rllib`` trains the same view with RLlib's PPO through ``ParallelPettingZooEnv`` (one module per
role) and scores it on the held-out seeds like the other arms (``--evaluate N``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from feedbackgym.files import atomic_write  # noqa: E402

RESULTS = ROOT / "results" / "market" / "multiagent"
MODELS = RESULTS / "models"
RAW = RESULTS / "raw"
TEST_SEED = 20_000
AGENT_MAKERS = 3
#: the learners' view: the flash-crash hour, 3 of the 10 rule makers replaced by agent makers,
#: every agent deciding every 5 simulated seconds (as the published regulator models)
TRAIN_KWARGS = {"scenario": "flash_crash", "agent_makers": AGENT_MAKERS, "decision_s": 5}
CLONE_STOP_LOGIC = {"move_pct": 1.0}   # the regulator clone's teacher (see train)
#: arm -> (env kwargs, policies by role: "model" = the trained one, else a rule)
ARMS: dict[str, tuple[dict, dict]] = {
    "rule_makers+stop_logic": ({"scenario": "flash_crash", "agent_makers": 0, "decision_s": 1},
                               {"regulator": "stop_logic"}),
    "rule_makers+none": ({"scenario": "flash_crash", "agent_makers": 0, "decision_s": 1},
                         {"regulator": "none"}),
    "rule_agents+stop_logic": ({"scenario": "flash_crash", "agent_makers": AGENT_MAKERS, "decision_s": 1},
                               {"regulator": "stop_logic", "maker": "rule"}),
    "learned_makers+learned_regulator": (dict(TRAIN_KWARGS), {"regulator": "model", "maker": "model"}),
    "learned_makers+stop_logic": (dict(TRAIN_KWARGS), {"regulator": "stop_logic", "maker": "model"}),
    "rule_makers+learned_regulator": ({"scenario": "flash_crash", "agent_makers": 0, "decision_s": 5},
                                      {"regulator": "model"}),
    # controls at the learners' 5-s step: the same slots and cadence with the rule maker instead
    "rule_agents+stop_logic_5s": (dict(TRAIN_KWARGS), {"regulator": "stop_logic", "maker": "rule"}),
    "rule_agents+learned_regulator": (dict(TRAIN_KWARGS), {"regulator": "model", "maker": "rule"}),
}
#: paired comparisons (arm, reference, what the difference measures), drawdown by seed
PAIRS = (
    ("learned_makers+learned_regulator", "rule_makers+stop_logic",
     "both learners vs the published market (rule makers, Stop Logic every second)"),
    ("learned_makers+stop_logic", "rule_agents+stop_logic_5s", "learning makers instead of rule makers (Stop Logic)"),
    ("learned_makers+learned_regulator", "rule_agents+learned_regulator",
     "learning makers instead of rule makers (learned regulator)"),
    ("rule_agents+learned_regulator", "rule_agents+stop_logic_5s", "learned regulator instead of Stop Logic (5 s)"),
    ("rule_makers+learned_regulator", "rule_makers+stop_logic", "learned regulator (5 s) vs Stop Logic (1 s), "
     "10 rule makers"),
    ("rule_agents+stop_logic", "rule_makers+stop_logic", "agent slots on the rule-maker menu vs the kernel's rule "
     "makers (mechanics)"),
    ("rule_makers+none", "rule_makers+stop_logic", "no breaker vs Stop Logic"),
)
COLUMNS = ("max_drawdown_pct", "min_depth_frac", "depth_trough_frac", "spread_stress_ticks", "halted_s", "n_halts",
           "retrace_50_s", "mean_dislocation_pct", "composite_loss", "intermediaries_max_abs_net_inventory",
           "agent_makers_max_abs_net_inventory", "agent_makers_pnl", "agent_makers_volume",
           "agent_makers_two_sided_frac", "agent_makers_time_at_cap_frac")


def _save_png(fig, path: Path, dpi: int = 110) -> None:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    atomic_write(path, buf.getvalue())


def _write_json(path: Path, obj) -> None:
    atomic_write(path, json.dumps(obj, indent=1, sort_keys=True, allow_nan=True) + "\n")


# ------------------------------------------------------------------------------------ train


def train(rounds: int, steps: int, seed: int, clone_episodes: int) -> None:
    import torch

    from feedbackgym.envs.market.multiagent_training import PPO_DEFAULTS, clone_rules, train_independent

    torch.set_num_threads(1)
    MODELS.mkdir(parents=True, exist_ok=True)
    log_lines: list[str] = []

    def log(msg):
        line = f"{time.time() - t0:7.0f} s  {msg}"
        print(line, flush=True)
        log_lines.append(line)

    t0 = time.time()
    # the regulator is cloned from Stop Logic at 1 % in 15 s, its default when the published models
    # were trained (now 1.5 %: feedbackgym.envs.market.breakers.StopLogic), so this command still
    # makes them
    models = clone_rules(TRAIN_KWARGS, roles=("maker", "regulator"), episodes=clone_episodes, seed=seed,
                         regulator_rule_kwargs=CLONE_STOP_LOGIC) if clone_episodes else {}
    clone_accuracy = {r: m.clone_accuracy for r, m in models.items()}
    if models:
        log(f"cloned the rules from {clone_episodes} episodes: accuracy {clone_accuracy}")
    models = train_independent(TRAIN_KWARGS, learn=("maker", "regulator"), rounds=rounds, steps_per_round=steps,
                               seed=seed, models=models, log=log)
    wall = time.time() - t0
    for role, model in models.items():
        tmp = MODELS / f".{role}.tmp.zip"
        model.save(tmp)
        os.replace(tmp, MODELS / f"{role}.zip")
    _write_json(RESULTS / "training.json", {
        "command": " ".join(["nice -n 5 .venv/bin/python experiments/market/multiagent/run.py"] + sys.argv[1:]),
        "env_kwargs": TRAIN_KWARGS, "rounds": rounds, "env_steps_per_turn": steps, "seed": seed,
        "clone_episodes": clone_episodes, "clone_accuracy": clone_accuracy,
        "ppo": PPO_DEFAULTS, "wall_s": round(wall, 1), "torch_threads": torch.get_num_threads(),
        "num_timesteps": {r: int(m.num_timesteps) for r, m in models.items()}, "log": log_lines})
    print(f"trained in {wall:.0f} s -> {MODELS}")


# --------------------------------------------------------------------------------- evaluate


def _policies(spec: dict, models: dict) -> dict:
    from feedbackgym.envs.market.multiagent_training import SB3Policy, rule_policies

    rules = rule_policies()
    out = {}
    for role, what in spec.items():
        if what == "model":
            out[role] = SB3Policy(models[role])
        elif what == "rule":
            out[role] = rules[role]
        else:   # a circuit-breaker rule name
            out[role] = rule_policies(regulator_rule=what)["regulator"]
    return out


def _summarise(metrics: dict, env) -> dict:
    k = env.config.agent_makers
    rec = {key: (float(v) if isinstance(v, (int, float, np.integer, np.floating)) else v)
           for key, v in metrics.items()}
    rec["agent_makers_pnl"] = sum(metrics.get(f"maker_{i}_pnl", 0.0) for i in range(k)) if k else math.nan
    rec["agent_makers_volume"] = sum(metrics.get(f"maker_{i}_volume", 0) for i in range(k)) if k else math.nan
    for key in ("two_sided_frac", "time_at_cap_frac"):
        rec[f"agent_makers_{key}"] = float(np.mean([metrics[f"maker_{i}_{key}"] for i in range(k)])) if k else math.nan
    if not k:
        rec["agent_makers_max_abs_net_inventory"] = math.nan
    return rec


def evaluate(seeds: int, arms: list[str] | None) -> None:
    from stable_baselines3 import PPO

    from feedbackgym.envs.market.multiagent_training import play
    from feedbackgym.envs.market.multiagent import parallel_env

    import torch
    torch.set_num_threads(1)
    models = {r: PPO.load(MODELS / f"{r}.zip", device="cpu") for r in ("maker", "regulator")
              if (MODELS / f"{r}.zip").is_file()}
    RAW.mkdir(parents=True, exist_ok=True)
    for name, (kwargs, spec) in ARMS.items():
        if arms and name not in arms:
            continue
        if any(v == "model" for v in spec.values()) and not models:
            print(f"{name}: no trained models in {MODELS}; run train first")
            continue
        env = parallel_env(**kwargs, regulator=True)
        records, paths = [], {}
        t0 = time.time()
        for i in range(seeds):
            seed = TEST_SEED + i
            metrics, series = play(env, _policies(spec, models), seed)
            rec = _summarise(metrics, env)
            rec["seed"] = seed
            records.append(rec)
            if i < 3:   # paths of the first seeds, for the plots
                paths[str(seed)] = {key: [round(float(x), 4) for x in v]
                                    for key, v in series.items() if key != "agent_inventory"}
                paths[str(seed)]["agent_net_inventory"] = [float(x) for x in series["agent_inventory"].sum(1)]
        _write_json(RAW / f"{name}.json", {"arm": name, "env_kwargs": kwargs, "policies": spec,
                                           "episodes": records, "paths": paths})
        print(f"{name}: {seeds} episodes in {time.time() - t0:.0f} s; drawdown "
              f"{np.mean([r['max_drawdown_pct'] for r in records]):.2f} %", flush=True)


# ----------------------------------------------------------------------------------- report


def _stats(records, key):
    v = np.array([r.get(key, math.nan) for r in records], float)
    v = v[np.isfinite(v)]
    if not v.size:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else 0.0


def _table(runs: dict) -> None:
    summary = {name: {key: dict(zip(("mean", "sem"), _stats(r["episodes"], key))) for key in COLUMNS}
               for name, r in runs.items()}
    paired = {}
    for arm, ref, what in PAIRS:
        if arm in runs and ref in runs:
            d = [a["max_drawdown_pct"] - b["max_drawdown_pct"] for a, b in zip(runs[arm]["episodes"],
                                                                                runs[ref]["episodes"])]
            paired[f"{arm} - {ref}"] = {"what": what, "drawdown_diff_mean": float(np.mean(d)),
                                        "drawdown_diff_sem": float(np.std(d, ddof=1) / math.sqrt(len(d))),
                                        "seeds_deeper": sum(x > 0 for x in d), "seeds": len(d)}
    n = len(next(iter(runs.values()))["episodes"])
    _write_json(RESULTS / "summary.json", {"arms": summary, "paired_drawdown": paired, "seeds": n,
                                           "first_seed": TEST_SEED})
    lines = ["# Multi-agent flash crash: learning makers and regulator vs rules", "",
             f"`flash_crash` (9,000-contract POV seller), held-out seeds {TEST_SEED}..{TEST_SEED + n - 1}; "
             "mean ± standard error over seeds. Written by `experiments/market/multiagent/run.py report`.", ""]
    head = ["metric"] + list(runs)   # one column per arm, one row per metric
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for key in COLUMNS:
        cells = [key]
        for name in runs:
            m, s = summary[name][key]["mean"], summary[name][key]["sem"]
            cells.append("n/a" if not math.isfinite(m) else f"{m:.3g} ± {s:.2g}")
        lines.append("| " + " | ".join(cells) + " |")
    if paired:
        lines += ["", "Max drawdown, paired by seed (positive: the first arm's crash is deeper):", "",
                  "| comparison | what it isolates | mean difference, % points | seeds deeper |", "|---|---|---|---|"]
        for name, d in paired.items():
            lines.append(f"| {name} | {d['what']} | {d['drawdown_diff_mean']:+.2f} ± {d['drawdown_diff_sem']:.2f} "
                         f"| {d['seeds_deeper']} / {d['seeds']} |")
    atomic_write(RESULTS / "table.md", "\n".join(lines) + "\n")


def _plots(runs: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seed = str(TEST_SEED)   # the first held-out seed, every arm
    fig, ax = plt.subplots(figsize=(10, 5))
    for name, r in runs.items():
        p = r["paths"].get(seed)
        if p:
            ax.plot(np.array(p["time_s"]) / 60, p["mid"], lw=1, label=name)
    p0 = next(iter(runs.values()))["paths"].get(seed)
    if p0:
        ax.plot(np.array(p0["time_s"]) / 60, p0["fundamental"], "k:", lw=1, label="fundamental")
    ax.set_xlabel("minutes")
    ax.set_ylabel("mid")
    ax.set_title(f"flash_crash, seed {seed}: mid under each arm")
    ax.legend(fontsize=7)
    fig.tight_layout()
    _save_png(fig, RESULTS / "price_path.png")
    plt.close(fig)

    fig, axes = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for name, r in runs.items():
        p = r["paths"].get(seed)
        if not p:
            continue
        t = np.array(p["time_s"]) / 60
        axes[0].plot(t, np.array(p["maker_net_inventory"]) + np.array(p["agent_net_inventory"]), lw=1, label=name)
        if r["env_kwargs"].get("agent_makers"):
            axes[1].plot(t, p["agent_net_inventory"], lw=1, label=name)
    axes[0].set_ylabel("all makers' net inventory")
    axes[1].set_ylabel(f"the {AGENT_MAKERS} agent makers' net inventory")
    axes[1].set_xlabel("minutes")
    for a in axes:
        a.legend(fontsize=7)
    axes[0].set_title(f"flash_crash, seed {seed}: intermediaries' net inventory (cap 40 each)")
    fig.tight_layout()
    _save_png(fig, RESULTS / "maker_inventory.png")
    plt.close(fig)


def report() -> None:
    runs = {}
    for name in ARMS:
        p = RAW / f"{name}.json"
        if p.is_file():
            runs[name] = json.loads(p.read_text())
    if not runs:
        raise SystemExit(f"no results in {RAW}; run evaluate first")
    _table(runs)
    _plots(runs)
    print((RESULTS / "table.md").read_text())


# ------------------------------------------------------------------------------------ rllib


def rllib(timesteps: int, seed: int, evaluate_seeds: int, runners: int) -> None:
    from feedbackgym.envs.market.multiagent_training import RLlibPolicy, play, train_rllib
    from feedbackgym.envs.market.multiagent import parallel_env

    t0 = time.time()
    algo, results = train_rllib(TRAIN_KWARGS, timesteps=timesteps, seed=seed, num_env_runners=runners,
                                log=lambda m: print(m, flush=True))
    wall = time.time() - t0
    out = {"command": " ".join([".venv-ray/bin/python experiments/market/multiagent/run.py"] + sys.argv[1:]),
           "env_kwargs": TRAIN_KWARGS, "timesteps": timesteps, "wall_s": round(wall, 1), "episodes": [],
           "env_steps_sampled": int(results[-1].get("env_runners", {}).get("num_env_steps_sampled_lifetime", 0))}
    if evaluate_seeds:
        env = parallel_env(**TRAIN_KWARGS)
        pol = {"regulator": RLlibPolicy(algo, "regulator"), "maker": RLlibPolicy(algo, "maker")}
        for i in range(evaluate_seeds):
            metrics, _ = play(env, pol, TEST_SEED + i)
            out["episodes"].append({**_summarise(metrics, env), "seed": TEST_SEED + i})
    algo.stop()
    RESULTS.mkdir(parents=True, exist_ok=True)
    _write_json(RESULTS / "rllib.json", out)
    print(f"rllib: {out['env_steps_sampled']} env steps in {wall:.0f} s -> {RESULTS / 'rllib.json'}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="stage", required=True)
    t = sub.add_parser("train", help="SB3 independent learners (makers parameter-shared, regulator)")
    t.add_argument("--rounds", type=int, default=3)
    t.add_argument("--steps", type=int, default=40_000, help="env steps per role per round")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--clone-episodes", type=int, default=10,
                   help="warm start: behaviour cloning of the rules from this many episodes (0: from scratch)")
    e = sub.add_parser("evaluate", help="every arm on held-out seeds")
    e.add_argument("--seeds", type=int, default=10)
    e.add_argument("--arms", default=None, help="comma-separated subset of the arms")
    sub.add_parser("report", help="table.md, summary.json, price_path.png, maker_inventory.png")
    r = sub.add_parser("rllib", help="the RLlib recipe (run with .venv-ray)")
    r.add_argument("--timesteps", type=int, default=20_000)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--evaluate", type=int, default=0, help="held-out seeds to score the trained modules on")
    r.add_argument("--num-env-runners", type=int, default=0)
    args = ap.parse_args(argv)
    if args.stage == "train":
        train(args.rounds, args.steps, args.seed, args.clone_episodes)
    elif args.stage == "evaluate":
        evaluate(args.seeds, args.arms.split(",") if args.arms else None)
    elif args.stage == "report":
        report()
    else:
        rllib(args.timesteps, args.seed, args.evaluate, args.num_env_runners)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
