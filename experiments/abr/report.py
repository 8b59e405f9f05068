"""Build results/abr/ from finished runs: models, comparison tables, CDF plots, learning curves.

    .venv/bin/python experiments/abr/report.py --ppo-run runs/abr_ppo_bc_0 --dqn-run runs/abr_dqn_bc_0 \
        --bc-run runs/abr_bc_ppo_0 --out results/abr
    .venv/bin/python experiments/abr/report.py --out results/abr     # rebuild from OUT alone

* with run folders: copies each run's ``best_model.zip`` (selected on the validation split
  ``train_fit`` under the test protocol, never on a test split) to ``OUT/models/{ppo,dqn}.zip``
  (and the clone's ``model.zip`` to ``bc_ppo.zip``), and the runs' small records
  (``config.json``, ``command.txt``, ``evaluations.csv``, ``best_model.json``, ``pretrain.json``
  and TensorBoard's ``time/fps`` as ``fps.csv``) to ``OUT/runs/<name>/``;
* then, from ``OUT`` alone (so the tables can be rebuilt from the committed files):
  for each test split (``fcc_test``, ``hsdpa_holdout``) runs ``feedbackgym compare``'s code
  (:func:`feedbackgym.agents.compare.compare`) over every baseline and the models in pensieve
  mode, writing ``OUT/<split>/compare.{md,json}``, ``compare_episodes.csv`` and
  ``compare_cdf.png`` (per-trace QoE CDF);
  ``OUT/summary.md``: QoE per chunk, mean bitrate, rebuffer seconds and switches of every policy
  on both splits side by side;
  ``OUT/learning_curves.png`` + ``learning_curves.csv``: every evaluation of the runs (validation and
  the report-only test splits) against env steps and training minutes;
  ``OUT/training.md``: steps, wall time, steps/s, cloning time, selected checkpoint;
  ``OUT/typical.md``: the selected checkpoint beside the typical one (mean, median and range of
  every evaluation of the run on each split), since the selected checkpoint can also be among the
  run's best on a test split by chance.

Nothing here trains; every number comes from the models and the run folders given. Every output is
written atomically (feedbackgym.files). Missing
inputs (no models, a model without its run record) stop the report with a message naming the
file, instead of leaving tables out silently. ``--splits`` chooses the trace splits compared.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

import feedbackgym  # noqa: F401
from feedbackgym.agents.compare import compare, write_outputs
from feedbackgym.files import atomic_write, write_csv

ENV_ID = "feedbackgym/AbrStreaming-v0"
BASELINES = ["lowest", "bb", "rb", "bola", "robust_mpc_pensieve", "robust_mpc", "optimal"]
SPLITS = ["fcc_test", "hsdpa_holdout"]
COLUMNS = [("qoe_per_chunk", "QoE/chunk"), ("mean_bitrate_mbps", "bitrate Mbps"), ("rebuffer_s", "rebuffer s"),
           ("switches", "switches")]


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


RECORDS = ("config.json", "command.txt", "evaluations.csv", "best_model.json", "pretrain.json")
#: models in table order: the clone, then the RL agents (extra seeds after their first seed)
ORDER = ("bc_ppo", "ppo", "dqn")


def run_sources(args) -> list[tuple[str, Path, str]]:
    """(name, run folder, model file) for every run given on the command line."""
    out = []
    if args.bc_run:
        out.append(("bc_ppo", Path(args.bc_run), "model.zip"))
    if args.ppo_run:
        out.append(("ppo", Path(args.ppo_run), "best_model.zip"))
    if args.dqn_run:
        out.append(("dqn", Path(args.dqn_run), "best_model.zip"))
    for spec in args.extra_run or []:
        name, sep, folder = spec.partition("=")
        if not sep or not name or "/" in name:
            raise SystemExit(f"--extra-run {spec!r}: expected NAME=RUN_DIR or NAME=RUN_DIR/FILE.zip")
        path = Path(folder)
        if path.suffix == ".zip":  # a given model file of a run (e.g. its last model.zip): no run records
            out.append((name, path.parent, path.name))
        else:
            out.append((name, path, "best_model.zip"))
    return out


def collect(args, out: Path) -> None:
    """Models and small run records from the run folders into ``out``."""
    for name, run, fname in run_sources(args):
        src = run / fname
        if not src.is_file():
            raise SystemExit(f"{src}: no such model")
        dst = out / "models" / f"{name}.zip"
        atomic_write(dst, src.read_bytes())
        size = dst.stat().st_size
        print(f"{dst}: {size / 1024:.0f} KiB (from {src})")
        if size > 1024 * 1024:
            print(f"warning: {dst} is over 1 MB")
        if fname not in ("best_model.zip", "model.zip") or (name != "bc_ppo" and fname == "model.zip"):
            continue  # a non-selected model of a run recorded under its own name: no second copy of the records
        rec = out / "runs" / name
        for f in RECORDS:
            if (run / f).is_file():
                atomic_write(rec / f, (run / f).read_bytes())
        fps = _fps(run)
        if fps:
            write_csv(rec / "fps.csv", [{"timesteps": t, "fps": v} for t, v in fps])


def models_in(out: Path) -> list[tuple[str, Path]]:
    if not (out / "models").is_dir() or not any((out / "models").glob("*.zip")):
        raise SystemExit(f"{out / 'models'}: no model .zip files (give run folders, or --out a results folder "
                         "that holds models/)")
    names = sorted((p.stem for p in (out / "models").glob("*.zip")),
                   key=lambda n: (next((i for i, o in enumerate(ORDER) if n == o or n.startswith(o + "_")), 99), n))
    return [(n, out / "models" / f"{n}.zip") for n in names]


def compare_splits(models, out: Path, splits=SPLITS) -> dict:
    summary = {}
    for split in splits:
        policies = BASELINES + [str(p) for _, p in models]
        comp = compare(ENV_ID, policies, env_kwargs={"mode": "pensieve"}, traces=split,
                       progress=lambda label, res, s, split=split: print(f"  {split} {label}: "
                                                            f"{res.aggregate['qoe_per_chunk']:.4f} ({s:.0f} s)"))
        write_outputs(comp, out / split)
        plot_agents_cdf(comp, out / split / "cdf_agents.png", split)
        pct = comp.percent_of_optimal() or {}
        summary[split] = {r.policy: {**{k: r.aggregate[k] for k, _ in COLUMNS}, "pct_optimal": pct.get(r.policy),
                                     "per_trace": comp.values(r)}
                          for r in comp.results}
    return summary


#: the lines of the uncluttered CDF: (policy, colour, line style)
CDF_LINES = [("rb", "tab:olive", "--"), ("bola", "tab:purple", "--"), ("robust_mpc", "black", "--"),
             ("optimal", "gray", ":"), ("bc_ppo", "tab:green", "-"), ("ppo", "tab:blue", "-"),
             ("dqn", "tab:orange", "-")]


def plot_agents_cdf(comp, path: Path, split: str) -> None:
    """Per-trace QoE CDF of the published agents, the clone and the strongest baselines only."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    by = {r.policy: r for r in comp.results}
    pct = comp.percent_of_optimal() or {}
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for name, color, style in CDF_LINES:
        if name not in by:
            continue
        x = np.sort(np.asarray(comp.values(by[name]), dtype=float))
        y = np.arange(1, len(x) + 1) / len(x)
        label = f"{name} (mean {by[name].aggregate[comp.metric]:.3f}"
        label += f", {pct[name]:.0f}% of optimal)" if name in pct else ")"
        ax.step(np.concatenate([[x[0]], x]), np.concatenate([[0.0], y]), where="post", color=color, ls=style,
                lw=1.6, label=label)
    ax.set_xlabel("QoE_lin per chunk of a trace")
    ax.set_ylabel("fraction of traces")
    ax.set_ylim(0, 1.0)
    ax.set_title(f"{split}: {comp.num_episodes} traces, pensieve mode, test protocol", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    _save_png(fig, path, dpi=120)


def write_summary(summary: dict, out: Path) -> None:
    policies = list(summary[SPLITS[0]])
    head = ["policy"] + [f"{s} {c}" for s in SPLITS for _, c in COLUMNS] + [f"{s} % of optimal" for s in SPLITS]
    lines = ["# ABR agents vs baselines (pensieve mode, test protocol, QoE_lin)", "",
             "Generated by `experiments/abr/report.py` (see results/abr/README.md). QoE/chunk = mean reward of "
             "chunks 1..47 per trace, averaged over traces; bitrate and rebuffer are per-trace means; "
             "switches = level changes per video.", "",
             "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for p in policies:
        cells = [p]
        for s in SPLITS:
            row = summary[s][p]
            cells += [f"{row[k]:.4f}" if k == "qoe_per_chunk" else f"{row[k]:.3f}" for k, _ in COLUMNS]
        for s in SPLITS:
            v = summary[s][p]["pct_optimal"]
            cells.append("" if v is None else f"{v:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    atomic_write(out / "summary.md", "\n".join(lines) + "\n")
    atomic_write(out / "summary.json", json.dumps(summary, indent=2) + "\n")


def write_headline(summary: dict, models: list[tuple[str, Path]], out: Path) -> None:
    """Each model against clean robustMPC and against the best baseline of each split."""
    lines = ["# Headline: agents vs robustMPC and the best baseline", "",
             "Generated by `experiments/abr/report.py` from `summary.json` (QoE_lin per chunk, pensieve mode, "
             "test protocol). Best baseline = best of " + ", ".join(b for b in BASELINES if b != "optimal")
             + " on that split (the offline optimum is not a baseline).", "",
             "Paired per-trace comparison with robustMPC: traces where the model scores higher / lower, and a 95% "
             "bootstrap interval (10,000 resamples of traces, seed 0) of the mean per-trace difference.", "",
             "| split | model | QoE/chunk | robust_mpc | vs robust_mpc | traces better / worse than robust_mpc | "
             "mean diff [95% CI] | median trace: model / robust_mpc | best baseline | vs best baseline | "
             "% of optimal |",
             "|---|---|---:|---:|---:|---:|---|---|---|---:|---:|"]
    for split in SPLITS:
        row = summary[split]
        mpc = row["robust_mpc"]["qoe_per_chunk"]
        base = {b: row[b]["qoe_per_chunk"] for b in BASELINES if b != "optimal" and b in row}
        best = max(base, key=base.get)
        for name, _ in models:
            v = row[name]["qoe_per_chunk"]
            pct = row[name]["pct_optimal"]
            diff = np.asarray(row[name]["per_trace"]) - np.asarray(row["robust_mpc"]["per_trace"])
            rng = np.random.default_rng(0)
            boots = diff[rng.integers(0, len(diff), size=(10_000, len(diff)))].mean(axis=1)
            lo, hi = np.percentile(boots, [2.5, 97.5])
            lines.append(f"| {split} | {name} | {v:.4f} | {mpc:.4f} | {100 * (v / mpc - 1):+.1f}% | "
                         f"{int((diff > 1e-9).sum())} / {int((diff < -1e-9).sum())} of {len(diff)} | "
                         f"{diff.mean():+.3f} [{lo:+.3f}, {hi:+.3f}] | "
                         f"{np.median(row[name]['per_trace']):.3f} / "
                         f"{np.median(row['robust_mpc']['per_trace']):.3f} | {best} "
                         f"{base[best]:.4f} | {100 * (v / base[best] - 1):+.1f}% | "
                         f"{'' if pct is None else f'{pct:.1f}'} |")
    atomic_write(out / "headline.md", "\n".join(lines) + "\n")


def learning_curves(runs: dict[str, Path], out: Path, reference: dict) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = []
    for name, run in runs.items():
        for r in read_csv(run / "evaluations.csv"):
            rows.append({"run": name, "timesteps": int(float(r["timesteps"])), "eval": r["eval"],
                         "train_min": float(r.get("train_s") or r.get("wall_s") or 0.0) / 60.0,
                         "qoe_per_chunk": float(r["qoe_per_chunk"]), "rebuffer_s": float(r["rebuffer_s"]),
                         "mean_bitrate_mbps": float(r["mean_bitrate_mbps"]), "switches": float(r["switches"])})
    write_csv(out / "learning_curves.csv", rows)
    evals = [("validation", "validation: train_fit (selects checkpoints)"),
             ("fcc_test", "fcc_test (report only)"), ("hsdpa_holdout", "hsdpa_holdout (report only)")]
    fig = Figure(figsize=(15, 8), layout="constrained")
    FigureCanvasAgg(fig)
    for col, (ev, title) in enumerate(evals):
        for row, xkey, xlabel in ((0, "timesteps", "env steps"), (1, "train_min", "training wall minutes")):
            ax = fig.add_subplot(2, 3, row * 3 + col + 1)
            for name in runs:
                pts = [r for r in rows if r["run"] == name and r["eval"] == ev]
                ax.plot([r[xkey] for r in pts], [r["qoe_per_chunk"] for r in pts], marker=".", label=name)
            ref = reference.get(ev, {})
            lines = [("robust_mpc", "--", "gray"), ("bc_ppo", ":", "gray")]
            others = {k: v for k, v in ref.items() if k in BASELINES and k not in ("optimal", "robust_mpc")}
            if others:
                best = max(others, key=others.get)
                if others[best] > ref.get("robust_mpc", -1e9):
                    lines.append((best, "-.", "tab:red"))
            for base, style, color in lines:
                v = ref.get(base)
                if v is not None:
                    ax.axhline(v, ls=style, color=color, lw=1, label=f"{base} {v:.3f}")
            for name, run in runs.items():
                best_step = json.loads((run / "best_model.json").read_text())["timesteps"]
                pts = [r for r in rows if r["run"] == name and r["eval"] == ev and r["timesteps"] == best_step]
                if pts:
                    ax.plot([pts[0][xkey]], [pts[0]["qoe_per_chunk"]], marker="*", ms=12, color="black",
                            ls="none", label=f"{name}: selected checkpoint" if col == 0 else None)
            ax.set_title(title, fontsize=10)
            ax.set_xlabel(xlabel)
            ax.set_ylabel("QoE_lin per chunk")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7)
    _save_png(fig, out / "learning_curves.png", dpi=100)


def typical_table(runs: dict[str, Path], out: Path) -> None:
    """Selected checkpoint vs the run's typical one: every evaluation of the run per split."""
    lines = ["# Selected vs typical checkpoint", "",
             "Generated by `experiments/abr/report.py` from each run's `evaluations.csv`. The selected checkpoint is "
             "chosen on `train_fit` (validation); the typical one is the mean (median, range) over all of the "
             "run's evaluations, every 500k (PPO) / 250k (DQN) env steps including step 0 (the clone).", "",
             "| run | split | selected step | selected QoE/chunk | mean of all evaluations | median | min | max | "
             "evaluations |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, run in runs.items():
        evals = read_csv(run / "evaluations.csv")
        best = int(json.loads((run / "best_model.json").read_text())["timesteps"])
        for split in ("validation", "fcc_test", "hsdpa_holdout"):
            vals = {int(float(r["timesteps"])): float(r["qoe_per_chunk"]) for r in evals if r["eval"] == split}
            if not vals:
                continue
            v = np.asarray(list(vals.values()))
            sel = vals.get(best)
            lines.append(f"| {name} | {split} | {best} | {'' if sel is None else f'{sel:.4f}'} | {v.mean():.4f} | "
                         f"{np.median(v):.4f} | {v.min():.4f} | {v.max():.4f} | {len(v)} |")
    atomic_write(out / "typical.md", "\n".join(lines) + "\n")


def training_table(runs: dict[str, Path], out: Path) -> None:
    lines = ["# Training runs", "",
             "Steps and times from each run folder (config.json, evaluations.csv, pretrain.json, best_model.json, "
             "TensorBoard `time/fps`). Wall time includes behaviour cloning and the periodic evaluations.", "",
             "| run | algo | env steps | wall min | env steps/s (SB3 fps, last) | cloning s | best checkpoint step | "
             "best validation QoE/chunk |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for name, run in runs.items():
        cfg = json.loads((run / "config.json").read_text())
        evals = read_csv(run / "evaluations.csv")
        wall = max(float(r.get("train_s") or r.get("wall_s") or 0.0) for r in evals)
        steps = int(cfg.get("num_timesteps") or max(int(float(r["timesteps"])) for r in evals))
        pre = run / "pretrain.json"
        bc_s = json.loads(pre.read_text()).get("seconds") if pre.is_file() else None
        best = json.loads((run / "best_model.json").read_text())
        fps = read_csv(run / "fps.csv") if (run / "fps.csv").is_file() else []
        last_fps = f"{float(fps[-1]['fps']):.0f}" if fps else ""
        lines.append(f"| {name} | {cfg['algo']} | {steps} | {wall / 60:.1f} | {last_fps} | "
                     f"{'' if bc_s is None else f'{bc_s:.0f}'} | {best['timesteps']} | {best['score']:.4f} |")
    atomic_write(out / "training.md", "\n".join(lines) + "\n")


def _save_png(fig, path: Path, dpi: int) -> None:
    """Render to memory, then write atomically (no half-written plot if the report dies)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    atomic_write(path, buf.getvalue())


def _fps(run: Path) -> list[tuple[int, float]]:
    """TensorBoard ``time/fps`` (SB3's env steps per second since the start of learn())."""
    if not (run / "tb").is_dir():
        return []
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(run / "tb"))
    ea.Reload()
    if "time/fps" not in ea.Tags().get("scalars", []):
        return []
    points = [(int(e.step), float(e.value)) for e in ea.Scalars("time/fps")]
    stride = max(1, len(points) // 200)  # ~200 rows are plenty for a rate
    return points[::stride] + ([points[-1]] if (len(points) - 1) % stride else [])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ppo-run", default=None, help="PPO run folder (feedbackgym train)")
    p.add_argument("--dqn-run", default=None, help="DQN run folder (feedbackgym train)")
    p.add_argument("--bc-run", default=None, help="experiments/abr/bc_only.py output folder")
    p.add_argument("--extra-run", action="append", metavar="NAME=RUN_DIR",
                   help="another feedbackgym train run (e.g. ppo_seed1=runs/abr_ppo_bc_1): its best_model.zip "
                        "becomes models/NAME.zip; or NAME=RUN_DIR/model.zip for a run's last model (no run records)")
    p.add_argument("--out", default="results/abr")
    p.add_argument("--splits", default=",".join(SPLITS),
                   help=f"comma-separated trace splits to compare on (default {','.join(SPLITS)})")
    args = p.parse_args(argv)
    splits = [x.strip() for x in args.splits.split(",") if x.strip()]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if run_sources(args):
        collect(args, out)
    models = models_in(out)
    runs = {n: out / "runs" / n for n, _ in models if n != "bc_ppo"}
    for n, run in runs.items():  # checked before minutes of comparisons, not after
        for f in ("config.json", "evaluations.csv", "best_model.json"):
            if splits == SPLITS and not (run / f).is_file():
                raise SystemExit(f"{run / f}: missing run record of model {n!r} (give its run folder, e.g. "
                                 f"--extra-run {n}=runs/<its run>); the learning curves and training table need it")
    summary = compare_splits(models, out, splits)
    if splits != SPLITS:  # other splits: their comparison folders only; the tables below are about SPLITS
        return 0
    write_summary(summary, out)
    write_headline(summary, models, out)
    import feedbackgym.agents.evaluation as ev
    reference = {s: {k: v["qoe_per_chunk"] for k, v in summary[s].items()} for s in SPLITS}
    reference["validation"] = {"robust_mpc": ev.evaluate(ENV_ID, "robust_mpc", {"mode": "pensieve"},
                                                         traces="train_fit").aggregate["qoe_per_chunk"]}
    bc_evals = out / "runs" / "bc_ppo" / "evaluations.csv"
    if bc_evals.is_file():
        bc = {r["eval"]: float(r["qoe_per_chunk"]) for r in read_csv(bc_evals)}
        reference["validation"]["bc_ppo"] = bc.get("validation")
    if runs:
        learning_curves(runs, out, reference)
        training_table(runs, out)
        typical_table(runs, out)
        print((out / "training.md").read_text())
    print((out / "summary.md").read_text())
    print((out / "headline.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
