"""Held-out comparison of the market roles: every baseline and the trained models, per scenario.

For each role it runs ``feedbackgym compare`` (the family's protocol: calm and flash-crash
episodes seeded ``--seed, --seed + 1, ...``, interleaved) into ``OUT/<role>/``, splits the
per-episode CSV by scenario into ``OUT/summary.md`` / ``OUT/summary.json`` with the targets of
issue 9, and plots one held-out flash-crash episode per policy from ``feedbackgym evaluate
--trajectory`` (maker: inventory and mid; execution: contracts left and mid).

    .venv/bin/python experiments/market/roles/report.py --seed 1000 --episodes 40 --out results/market/roles
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from feedbackgym.files import atomic_save, atomic_write

ROLES = {
    "maker": {
        "env": "FlashCrashMarketMaker-v0",
        "baselines": ["fixed_spread", "avellaneda_stoikov", "avellaneda_stoikov_guarded", "stressed_maker"],
        "columns": ["sharpe", "pnl", "spread_pnl", "inventory_pnl", "time_at_cap_frac", "max_abs_inventory",
                    "mean_abs_inventory", "volume_share", "two_sided_frac_stress", "net_bought_stress",
                    "dumped_contracts"],
    },
    "execution": {
        "env": "FlashCrashExecution-v0",
        "baselines": ["twap", "vwap", "pov_9", "almgren_chriss"],
        "columns": ["shortfall_total_bps", "shortfall_bps", "completion_frac", "completion_s", "max_drawdown_pct",
                    "participation", "episode_reward"],
    },
}


def _cli() -> str:
    return str(Path(sys.executable).parent / "feedbackgym")


def run(cmd: list[str]) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def policies_of(role: str, models: Path) -> list[str]:
    """The role's baselines, then every committed model of the role (``models/<role>_*.zip``)."""
    return list(ROLES[role]["baselines"]) + [str(p) for p in sorted(models.glob(f"{role}_*.zip"))]


def short(policy: str) -> str:
    return Path(policy).stem if policy.endswith(".zip") else policy


def table(df: pd.DataFrame, columns: list[str]) -> str:
    head = "| policy | episodes | " + " | ".join(columns) + " |"
    lines = [head, "|---|---:|" + "---:|" * len(columns)]
    for pol, g in df.groupby("policy", sort=False):
        cells = []
        for c in columns:
            v = g[c].astype(float).dropna()
            cells.append("n/a" if v.empty else f"{v.mean():.4g} ± {1.96 * v.std(ddof=1) / math.sqrt(len(v)):.2g}"
                         if len(v) > 1 else f"{v.mean():.4g}")
        lines.append(f"| {short(pol)} | {len(g)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paired(df: pd.DataFrame, name: str, ref: str) -> str:
    """Policy minus ``ref`` on the same episodes (same label: scenario and seed): mean and standard
    error of the per-episode differences of Sharpe and time at cap."""
    keyed = df.assign(short=[short(p) for p in df["policy"]])
    out = []
    for col in ("sharpe", "time_at_cap_frac"):
        piv = keyed.pivot_table(index="label", columns="short", values=col)
        if name not in piv or ref not in piv:
            return "paired difference n/a"
        d = (piv[name] - piv[ref]).dropna()
        se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else float("nan")
        out.append(f"{col} {d.mean():+.4g} (SE {se:.2g}, n={len(d)})")
    return "paired difference vs " + ref + ": " + ", ".join(out)


def targets(role: str, df: pd.DataFrame) -> list[str]:
    means = df.groupby("policy", sort=False).mean(numeric_only=True)
    means.index = [short(p) for p in means.index]
    out = []
    for name in [p for p in means.index if p.startswith(f"{role}_")]:
        m = means.loc[name]
        if role == "maker":
            ref = means.loc["avellaneda_stoikov"]
            ok = m["sharpe"] > ref["sharpe"] and m["time_at_cap_frac"] < ref["time_at_cap_frac"]
            out.append(f"{name}: Sharpe {m['sharpe']:.3f} vs Avellaneda-Stoikov {ref['sharpe']:.3f}; time at cap "
                       f"{m['time_at_cap_frac']:.4f} vs {ref['time_at_cap_frac']:.4f} -> "
                       f"{'MET' if ok else 'NOT MET'}; " + paired(df, name, "avellaneda_stoikov"))
        else:
            ref = means.loc["pov_9"]
            ok = (m["shortfall_total_bps"] < ref["shortfall_total_bps"]
                  and m["max_drawdown_pct"] < ref["max_drawdown_pct"])
            out.append(f"{name}: shortfall {m['shortfall_total_bps']:.1f} bps vs POV-9 % "
                       f"{ref['shortfall_total_bps']:.1f}; drawdown caused {m['max_drawdown_pct']:.2f} % "
                       f"vs {ref['max_drawdown_pct']:.2f} % -> "
                       f"{'MET' if ok else 'NOT MET'}")
    return out


def plot(role: str, trajs: dict[str, pd.DataFrame], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for pol, t in trajs.items():
        x = t["time_s"] / 60.0
        if role == "maker":
            axes[0].plot(x, t["inventory"], label=pol, lw=1)
        else:
            axes[0].plot(x, t["remaining"], label=pol, lw=1)
        axes[1].plot(x, t["mid"], label=pol, lw=1)
    axes[0].set_ylabel("agent inventory, contracts" if role == "maker" else "contracts left to sell")
    axes[1].set_ylabel("mid price")
    axes[1].set_xlabel("minutes since the episode start (flash_crash: the seller starts at "
                       + ("15" if role == "maker" else "5") + " min)")
    axes[0].legend(fontsize=8, ncol=3)
    axes[0].set_title(f"{ROLES[role]['env']}: held-out flash-crash episode (same seed) per policy\n"
                      "the agent's orders change the random path, so each policy meets its own market")
    fig.tight_layout()
    atomic_save(path, lambda p: fig.savefig(p, dpi=110, format="png"))
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--out", required=True)
    ap.add_argument("--roles", default="maker,execution")
    a = ap.parse_args(argv)
    out = Path(a.out)
    models = out / "models"
    summary: dict = {"command": "python " + " ".join(sys.argv), "seed": a.seed, "episodes": a.episodes}
    md = [f"# Market roles: held-out comparison (seeds {a.seed}..., {a.episodes} episodes per role, calm and "
          "flash_crash interleaved)", "", f"Regenerate: `{summary['command']}`", ""]
    for role in a.roles.split(","):
        spec = ROLES[role]
        pols = policies_of(role, models)
        rdir = out / role
        run([_cli(), "compare", spec["env"], "--policies", ",".join(pols), "--episodes", str(a.episodes),
             "--seed", str(a.seed), "--out-dir", str(rdir)])
        df = pd.read_csv(rdir / "compare_episodes.csv")
        df["scenario"] = df["label"].astype(str).str.split("/").str[0]
        summary[role] = {}
        md += [f"## {role} ({spec['env']})", ""]
        for scenario, g in [("all", df)] + list(df.groupby("scenario", sort=False)):
            md += [f"### {scenario}", "", table(g, spec["columns"]), ""]
            summary[role][scenario] = {short(p): {c: float(v) for c, v in row.items()}
                                       for p, row in g.groupby("policy", sort=False)[spec["columns"]].mean().iterrows()}
        t = targets(role, df)
        t_flash = targets(role, df[df["scenario"] == "flash_crash"])
        summary[role]["targets_all"] = t
        summary[role]["targets_flash_crash"] = t_flash
        md += ["Targets (means over all held-out episodes):", ""] + [f"- {x}" for x in t] + [""]
        md += ["Targets (flash_crash episodes only):", ""] + [f"- {x}" for x in t_flash] + [""]
        trajs = {}
        for pol in pols:
            csv = rdir / f"trajectory_{short(pol)}.csv"
            run([_cli(), "evaluate", spec["env"], "--policy", pol, "--episodes", "2", "--seed", str(a.seed),
                 "--trajectory", str(csv)])
            tr = pd.read_csv(csv)
            trajs[short(pol)] = tr[tr["episode"] == tr["episode"].max()]   # episode 2: flash_crash/seed
        plot(role, trajs, out / f"{role}_flash_crash_paths.png")
        md += [f"![{role} paths]({role}_flash_crash_paths.png)", ""]
    atomic_write(out / "summary.md", "\n".join(md) + "\n")
    atomic_write(out / "summary.json", json.dumps(summary, indent=2, default=lambda x: None if isinstance(x, float)
                                                  and not np.isfinite(x) else x) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
