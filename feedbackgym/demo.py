"""``make demo``: the main job end to end on bundled data, in a few minutes.

1. scores the classical ABR baselines on the FCC test traces under Pensieve's test protocol;
2. trains a short PPO run (behaviour clone of robustMPC, then PPO fine-tuning) on the training
   traces, with TensorBoard logs, checkpoints and validation;
3. compares the trained agent with the baselines on the same traces: table + per-trace CDF plot;
4. tells you how to open TensorBoard.

Run ``python -m feedbackgym.demo --help`` for the knobs. The short run shows the pipeline, not the
published result: ``results/abr/README.md`` has the full-length runs and their commands.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

ENV_ID = "feedbackgym/AbrStreaming-v0"
BASELINES = ["bb", "rb", "bola", "robust_mpc"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m feedbackgym.demo", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/demo", help="folder for the run and the comparison (default runs/demo)")
    ap.add_argument("--timesteps", type=int, default=1_000_000, help="PPO env steps after cloning (default 1M)")
    ap.add_argument("--bc-episodes", type=int, default=1000, help="robustMPC episodes to clone (default 1000)")
    ap.add_argument("--test-traces", default="fcc_test", help="split or folder to compare on (default fcc_test)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-progress-bar", action="store_true")
    args = ap.parse_args(argv)

    import torch

    from .agents.compare import compare, write_outputs
    from .agents.train import resolve_hyperparams, train

    torch.set_num_threads(1)
    out = Path(args.out)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = out / f"ppo_{stamp}"
    pensieve = {"mode": "pensieve"}

    t0 = time.perf_counter()
    print(f"[1/3] Baselines on {args.test_traces} (Pensieve test protocol) ...", flush=True)
    base = compare(ENV_ID, BASELINES, env_kwargs=pensieve, traces=args.test_traces)
    print(base.to_markdown(), flush=True)

    print(f"\n[2/3] Training PPO: clone robustMPC on {args.bc_episodes} episodes, then {args.timesteps:,} "
          f"PPO steps on the training traces -> {run_dir}", flush=True)
    # The packaged recipe (the published one), shortened: clone robustMPC, then fine-tune
    # gently; the test splits are left to step 3 instead of being logged during training.
    hp = resolve_hyperparams(ENV_ID, "ppo")[0]
    train(ENV_ID, "ppo", timesteps=args.timesteps, seed=args.seed, run_dir=run_dir,
          progress_bar=not args.no_progress_bar, pretrain={**hp["pretrain"], "episodes": args.bc_episodes},
          eval_freq=max(args.timesteps // 4, 1), checkpoint_freq=max(args.timesteps // 2, 1), extra_evals={})

    print(f"\n[3/3] Comparing on {args.test_traces} ...", flush=True)
    model = run_dir / "best_model.zip"
    if not model.is_file():
        model = run_dir / "model.zip"
    result = compare(ENV_ID, BASELINES + [str(model)], env_kwargs=pensieve, traces=args.test_traces)
    paths = write_outputs(result, out / "compare")
    print(result.to_markdown())
    print(f"\nDone in {time.perf_counter() - t0:.0f} s.")
    print(f"  table: {paths['md']}\n  plot:  {paths['png']}\n  model: {model}")
    print(f"  TensorBoard: {Path(sys.prefix) / 'bin' / 'tensorboard'} --logdir {out}   "
          "(then open http://localhost:6006)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
