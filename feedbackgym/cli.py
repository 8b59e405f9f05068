"""The ``feedbackgym`` command: list envs and baselines, evaluate, compare, benchmark, train.

Every command has ``--help``. User errors (unknown id or policy, bad JSON, bad config values,
missing or malformed trace files...) print one line, ``feedbackgym: error: ...``, on stderr and
exit non-zero, without a traceback. Heavy libraries (stable-baselines3, torch, matplotlib) are
imported only by the commands that need them, so ``feedbackgym list`` stays fast.

Set ``FEEDBACKGYM_DEBUG=1`` to get the traceback of such an error instead (for bug reports).

``main(argv) -> int`` runs in-process (handy for tests and notebooks); the console script
calls ``sys.exit(main())``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import sys
from pathlib import Path

PROG = "feedbackgym"
#: exit status of user errors (argparse's too)
EXIT_USAGE = 2
_ENV_ID_HELP = "an env id from 'feedbackgym list' (the 'feedbackgym/' prefix may be left out)"
#: third-party modules that come with the ``train`` extra
_TRAIN_EXTRA = {"stable_baselines3", "torch", "tensorboard", "tqdm", "rich", "yaml", "matplotlib", "pandas"}


class UserError(Exception):
    """An error caused by the command line or the user's files: reported as one line."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the command's --help."""

    def error(self, message):  # noqa: D102 (argparse API)
        hint = f"{self.prog} --help"
        raise UserError(f"{message} (see '{hint}')")


# ----------------------------------------------------------------------------------- parsing


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0 <= v < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return v


def parse_env_kwargs(text: str | None, option: str = "--env-kwargs") -> dict:
    """``--env-kwargs`` (or ``option``): a JSON object (or ``@file.json``) of config fields."""
    if text is None:
        return {}
    source = option
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text()
        except OSError as e:
            raise UserError(f"{option} {path}: cannot read ({e.strerror or e})") from None
        source = f"{option} {path}"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"{source}: malformed JSON ({e.msg} at line {e.lineno} column {e.colno}); "
                        "expected an object like '{\"field\": value}'") from None
    if not isinstance(value, dict):
        raise UserError(f"{source}: expected a JSON object like '{{\"field\": value}}', "
                        f"got a JSON {type(value).__name__}")
    return value


def resolve_env_id(text: str) -> str:
    """Accept ``feedbackgym/Name-v0``, ``feedbackgym:feedbackgym/Name-v0`` and ``Name-v0``."""
    from .registration import NAMESPACE, env_ids

    ids = env_ids()
    candidate = text.split(":", 1)[1] if text.startswith(f"{NAMESPACE}:") else text
    if candidate in ids:
        return candidate
    if f"{NAMESPACE}/{candidate}" in ids:
        return f"{NAMESPACE}/{candidate}"
    raise UserError(f"unknown env id {text!r}; registered ids: {', '.join(ids)} (see '{PROG} list')")


def _add_eval_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--traces", metavar="PATH|SET",
                   help="data for envs that replay recorded data (see the env's docs): a file or folder, or a "
                        "bundled named set; the test protocol then plays every item once, in sorted order")
    p.add_argument("--env-kwargs", metavar="JSON",
                   help="config fields as a JSON object (or @file.json), applied after the test protocol, "
                        "e.g. '{\"reward\": \"NAME\"}'")
    p.add_argument("--episodes", type=_positive_int, metavar="N",
                   help="episodes to play (default: the family's test protocol, e.g. every item of a data set "
                        "once, or a fixed number of seeded episodes)")
    p.add_argument("--seed", type=_int, default=0, metavar="S", help="seed of the first episode (default 0)")
    p.add_argument("--tensorboard", metavar="DIR",
                   help="write each policy as a TensorBoard run DIR/<policy>: per-episode KPIs as scalars and "
                        "histograms, the aggregate as HParams metrics (compare: also the plot as an image)")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog=PROG, description="Gymnasium environments for adaptive systems in feedback loops: "
                                            "list envs and baselines, evaluate and compare policies, "
                                            "benchmark env speed, train PPO/DQN agents.",
                     epilog="examples (ENV_ID from 'feedbackgym list', NAME from 'feedbackgym baselines ENV_ID'):\n"
                            "  feedbackgym list\n"
                            "  feedbackgym baselines ENV_ID\n"
                            "  feedbackgym evaluate ENV_ID --policy NAME --out result.json\n"
                            "  feedbackgym compare ENV_ID --policies NAME1,NAME2,run/best_model.zip --out-dir cmp\n"
                            "  feedbackgym bench ENV_ID --num-envs 4096\n"
                            "  feedbackgym train ENV_ID --algo ppo --timesteps 200000",
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("list", help="registered env ids with a one-line description",
                       description="Registered env ids, one per line, with a one-line description.")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("baselines", help="classical baselines of an env id",
                       description="Baselines usable as --policy for ENV_ID: name and description.")
    p.add_argument("env_id", metavar="ENV_ID", help=_ENV_ID_HELP)
    p.set_defaults(func=cmd_baselines)

    p = sub.add_parser("evaluate", help="score one policy under the env's test protocol",
                       description="Score a baseline or a saved SB3 model .zip on ENV_ID under its family's "
                                   "test protocol (its declared config overrides and episode plan). Prints the "
                                   "aggregate metrics, each aggregated as the family declares (mean, median, "
                                   "percentile, ratio of sums...). A model .zip is code (SB3 pickles): load only "
                                   "your own.")
    p.add_argument("env_id", metavar="ENV_ID", help=_ENV_ID_HELP)
    p.add_argument("--policy", required=True, metavar="P", help="baseline name (see 'feedbackgym baselines "
                                                                "ENV_ID') or a saved model .zip")
    _add_eval_options(p)
    p.add_argument("--out", metavar="FILE.json", help="write aggregate and per-episode metrics as JSON")
    p.add_argument("--trajectory", metavar="FILE.csv", help="write one CSV row per step (action, reward, "
                                                            "reward components, state variables)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("compare", help="score several policies on the same episodes",
                       description="Evaluate several policies on the same episodes; print a markdown table and, "
                                   "with --out-dir, write compare.md, compare.json, compare_episodes.csv and "
                                   "compare_cdf.png (CDF over episodes of the family's headline metric). With "
                                   "the family's reference policy (e.g. an offline optimum) among the policies, "
                                   "each is shown as a percentage of it.")
    p.add_argument("env_id", metavar="ENV_ID", help=_ENV_ID_HELP)
    p.add_argument("--policies", required=True, metavar="P1,P2,...",
                   help="comma-separated baselines and/or model .zip paths (model files are code: only your own)")
    _add_eval_options(p)
    p.add_argument("--out-dir", metavar="DIR", help="folder for compare.md/.json, per-episode CSV and the plot")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG plot")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("bench", help="env steps per second, single and vectorised",
                       description="Measure env steps per second: the single env raw (env.unwrapped) and through "
                                   "gym.make's wrappers, Gymnasium's SyncVectorEnv of single envs (the reference) "
                                   "and the env's own vectorised twin (gym.make_vec); reports the twin/Sync "
                                   "ratio. Random actions from a seeded generator; best of --repeats.")
    p.add_argument("env_id", metavar="ENV_ID", help=_ENV_ID_HELP)
    p.add_argument("--num-envs", type=_positive_int, default=1024, metavar="N",
                   help="sub-envs of the vectorised twin (default 1024)")
    p.add_argument("--sync-envs", type=_positive_int, metavar="N",
                   help="sub-envs of the SyncVectorEnv reference (default: --num-envs)")
    p.add_argument("--steps", type=_positive_int, default=100_000, metavar="N",
                   help="env steps per round of a repeat (vector: rounded up to whole batched steps; "
                        "default 100000)")
    p.add_argument("--repeats", type=_positive_int, default=3, metavar="R",
                   help="repeats per measurement, best reported (default 3)")
    p.add_argument("--min-seconds", type=_seconds, default=1.0, metavar="T",
                   help="each repeat steps for at least T seconds, in rounds of --steps (default 1.0)")
    p.add_argument("--only", metavar="LIST", help="comma-separated subset of raw,wrapped,sync,twin")
    p.add_argument("--seed", type=_int, default=0, metavar="S", help="seed of envs and actions (default 0)")
    p.add_argument("--env-kwargs", metavar="JSON", help="config fields as a JSON object (default: the env's "
                                                        "defaults, i.e. its training setup)")
    p.add_argument("--twin-kwargs", metavar="JSON", help="extra keyword arguments of the vectorised twin only, "
                                                         "as a JSON object (e.g. a thread count the twin takes)")
    p.add_argument("--out", metavar="FILE", help="write the results atomically: FILE.json as JSON, anything "
                                                 "else (e.g. bench.md) as markdown")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("train", help="train a PPO or DQN agent (stable-baselines3)",
                       description="Train an SB3 agent on ENV_ID: run folder with model, config, command, "
                                   "checkpoints and TensorBoard logs. Needs the 'train' extra.")
    p.add_argument("env_id", metavar="ENV_ID", help=_ENV_ID_HELP)
    p.add_argument("--algo", required=True, choices=["ppo", "dqn"], type=str.lower)
    p.add_argument("--timesteps", type=_positive_int, metavar="N", help="total env steps (default: hyperparams)")
    p.add_argument("--seed", type=_int, default=0, metavar="S")
    p.add_argument("--hyperparams", metavar="FILE", help="rl-zoo3-style YAML keyed by env id "
                                                         "(default: the bundled one)")
    p.add_argument("--env-kwargs", metavar="JSON", help="config fields as a JSON object")
    p.add_argument("--run-dir", metavar="DIR", help="run folder (default: chosen by the trainer)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --run-dir")
    p.add_argument("--no-progress-bar", action="store_true", help="no progress bar (for logs and CI)")
    p.add_argument("--eval-freq", type=_positive_int, metavar="N", help="evaluate every N env steps")
    p.add_argument("--backend", choices=["sb3", "rllib"], default="sb3", type=str.lower,
                   help="sb3 (default) or rllib: Ray RLlib's new API stack, locally or on a Ray cluster "
                        "(needs the 'distributed' extra); same run folder layout and TensorBoard tags, and a "
                        "model.zip that 'evaluate --policy' scores")
    p.add_argument("--num-env-runners", type=_int, metavar="N", help="rllib: env runner processes (default 1)")
    p.add_argument("--envs-per-runner", type=_positive_int, metavar="K",
                   help="rllib: sub-envs per env runner, batched by the env's vector twin (default 1)")
    p.add_argument("--address", metavar="ADDR", help="rllib: Ray cluster to join ('auto' after 'ray start', or "
                                                      "'ray://HOST:10001'); default: a local Ray instance")
    p.set_defaults(func=cmd_train)
    return parser


# ---------------------------------------------------------------------------------- output


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _use_rich() -> bool:
    if not sys.stdout.isatty() or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def print_table(header: list[str], rows: list[list[str]], title: str | None = None) -> None:
    """A rich table on a terminal, aligned plain text otherwise (pipes, files, tests)."""
    if _use_rich():
        from rich.console import Console
        from rich.table import Table

        t = Table()
        for i, h in enumerate(header):
            t.add_column(h, justify="left" if i == 0 else "right")
        for r in rows:
            t.add_row(*r)
        console = Console()
        if title:
            console.print(title, style="bold", highlight=False, markup=False)
        console.print(t)
        return
    if title:
        print(title)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    fmt = lambda r: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)  # noqa: E731
                              for i, (c, w) in enumerate(zip(r, widths)))
    print(fmt(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(fmt(r))


def _fmt(v) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def _writing(option: str, path, write) -> None:
    """Run ``write()``; an OS error becomes one line naming the option and the path."""
    try:
        written = write()
    except OSError as e:
        raise UserError(f"{option} {path}: cannot write ({e.strerror or e})") from None
    if isinstance(written, dict):
        _say("wrote " + ", ".join(str(p) for p in written.values()))
    else:
        _say(f"wrote {path}")


def check_writable(option: str, path, folder: bool = False) -> None:
    """Fail now, not after minutes of work, if ``path`` (a file, or a ``folder``) cannot be written:
    the nearest existing ancestor must be a folder in which a file can be created."""
    p = Path(path).expanduser()
    if p.exists() and folder != p.is_dir():
        raise UserError(f"{option} {path}: is {'a file' if folder else 'a folder'}; expected "
                        f"{'a folder' if folder else 'a file name'}")
    probe_dir = p if (folder and p.is_dir()) else p.parent
    while not probe_dir.exists():
        probe_dir = probe_dir.parent
    if not probe_dir.is_dir():
        raise UserError(f"{option} {path}: cannot write ({probe_dir} is not a folder)")
    import tempfile

    try:
        with tempfile.NamedTemporaryFile(dir=probe_dir, prefix=".feedbackgym-write-check-"):
            pass
    except OSError as e:
        raise UserError(f"{option} {path}: cannot write in {probe_dir} ({e.strerror or e})") from None


def _command_line(argv: list[str]) -> str:
    return " ".join([PROG] + [shlex.quote(a) for a in argv])


# --------------------------------------------------------------------------------- commands


def cmd_list(args) -> int:
    from .registration import describe, env_ids

    ids = env_ids()
    width = max(len(i) for i in ids)
    for env_id in ids:
        print(f"{env_id.ljust(width)}  {describe(env_id)}")
    return 0


def cmd_baselines(args) -> int:
    from .agents.baselines import baseline_names

    names = baseline_names(resolve_env_id(args.env_id))
    if not names:
        print(f"no baselines for {args.env_id}")
        return 0
    width = max(len(n) for n in names)
    for name, doc in names.items():
        print(f"{name.ljust(width)}  {doc}")
    return 0


def cmd_evaluate(args) -> int:
    from .agents.compare import headline_metric
    from .agents.evaluation import evaluate, write_json, write_trajectory_csv

    env_id = resolve_env_id(args.env_id)
    env_kwargs = parse_env_kwargs(args.env_kwargs)
    for option, path in (("--out", args.out), ("--trajectory", args.trajectory)):
        if path:
            check_writable(option, path)
    if args.tensorboard:
        check_writable("--tensorboard", args.tensorboard, folder=True)
    result = evaluate(env_id, args.policy, env_kwargs=env_kwargs, traces=args.traces, episodes=args.episodes,
                      seed=args.seed, record_trajectory=args.trajectory is not None)
    metric = headline_metric(env_id, [result])
    agg = result.aggregate
    keys = [metric] + [k for k in agg if k not in (metric, "episodes")]
    title = f"{env_id}  policy {result.policy}  {agg['episodes']} episode(s)"
    if args.traces:
        title += f"  traces {args.traces}"
    print_table(["metric", "value"], [[k, _fmt(agg[k])] for k in keys], title=title)
    if args.out:
        _writing("--out", args.out, lambda: write_json(result, args.out))
    if args.trajectory:
        _writing("--trajectory", args.trajectory, lambda: write_trajectory_csv(result.trajectory, args.trajectory))
    if args.tensorboard:
        from .agents.tensorboard_eval import write_policy_run

        _writing("--tensorboard", args.tensorboard,
                 lambda: {0: write_policy_run(result, args.tensorboard, args.policy, args.seed)})
    return 0


def _compared_policies(env_id: str, text: str) -> list[str]:
    """``--policies``, every name checked before spending minutes on the first ones."""
    from .agents.baselines import baseline_names
    from .agents.policy import is_model_path, model_file, sb3_algo_of

    policies = [p.strip() for p in text.split(",") if p.strip()]
    if not policies:
        raise UserError("--policies: expected a comma-separated list such as 'NAME1,NAME2,model.zip'")
    known = baseline_names(env_id)
    for p in policies:
        if is_model_path(p):
            if not model_file(p).is_file():
                raise UserError(f"policy {p!r}: no such model file (nor a run folder with a model.zip)")
            sb3_algo_of(model_file(p))  # raises ValueError naming the file if it is no SB3 model
        elif p not in known:
            raise UserError(f"policy {p!r}: not a baseline of {env_id} ({', '.join(sorted(known))}) "
                            "nor a saved model .zip")
    return policies


def cmd_compare(args) -> int:
    from .agents.compare import ComparisonIncomplete, compare, headline_metric, write_outputs

    env_id = resolve_env_id(args.env_id)
    env_kwargs = parse_env_kwargs(args.env_kwargs)
    for option, path in (("--out-dir", args.out_dir), ("--tensorboard", args.tensorboard)):
        if path:
            check_writable(option, path, folder=True)
    policies = _compared_policies(env_id, args.policies)
    metric = headline_metric(env_id)

    def progress(label, res, seconds):
        value = res.aggregate.get(metric, res.aggregate["mean_reward_per_step"])
        _say(f"{label}: {metric} {value:.4f} ({res.aggregate['episodes']} episodes, {seconds:.1f} s)")

    incomplete = None
    try:
        comparison = compare(env_id, policies, env_kwargs=env_kwargs, traces=args.traces, episodes=args.episodes,
                             seed=args.seed, progress=progress)
    except ComparisonIncomplete as e:
        if e.partial is None:
            raise
        incomplete, comparison = e, e.partial  # write what was scored, then report the failure
    print(comparison.to_markdown(), end="")
    if args.out_dir:
        plot = not args.no_plot
        if plot:
            try:
                import matplotlib  # noqa: F401
            except ImportError:
                _say("note: matplotlib is not installed, no plot (pip install 'feedbackgym[train]')")
                plot = False
        _writing("--out-dir", args.out_dir, lambda: write_outputs(comparison, args.out_dir, plot=plot))
    if args.tensorboard:
        from .agents.tensorboard_eval import write_comparison

        plot = not args.no_plot and importlib.util.find_spec("matplotlib") is not None
        _writing("--tensorboard", args.tensorboard, lambda: dict(enumerate(
            write_comparison(comparison, args.tensorboard, policies[:len(comparison.results)], args.seed,
                             plot=plot))))
    if incomplete is not None:
        saved = f"; the {len(comparison.results)} scored policies were written" if args.out_dir else ""
        raise UserError(f"{incomplete}{saved}")
    return 0


def cmd_bench(args) -> int:
    from . import bench

    env_id = resolve_env_id(args.env_id)
    env_kwargs = parse_env_kwargs(args.env_kwargs)
    twin_kwargs = parse_env_kwargs(args.twin_kwargs, "--twin-kwargs")
    if args.out:
        check_writable("--out", args.out)
    which = None
    if args.only:
        which = [w.strip() for w in args.only.split(",") if w.strip()]
    result = bench.bench(env_id, num_envs=args.num_envs, sync_envs=args.sync_envs, steps=args.steps,
                         seed=args.seed, env_kwargs=env_kwargs, twin_kwargs=twin_kwargs, repeats=args.repeats,
                         min_seconds=args.min_seconds, which=which,
                         progress=lambda line: _say(f"bench {line}"),
                         command=_command_line(args.argv))
    print_table(bench.BenchResult.HEADER, result.table_rows(), title=f"{env_id} env steps per second")
    ratio = result.twin_vs_sync
    if ratio is not None:
        twin, sync = result.row(bench.TWIN), result.row(bench.SYNC)
        if twin is not None and sync is not None:  # both exist whenever the ratio does
            print(f"vector twin (N={twin.num_envs}) / SyncVectorEnv (N={sync.num_envs}): {ratio:.1f}x")
    if args.out:
        _writing("--out", args.out, lambda: bench.write(result, args.out))
    return 0


def cmd_train(args) -> int:
    env_id = resolve_env_id(args.env_id)
    env_kwargs = parse_env_kwargs(args.env_kwargs)
    if args.hyperparams is not None and not Path(args.hyperparams).is_file():
        raise UserError(f"--hyperparams {args.hyperparams}: no such file")
    if args.resume and args.run_dir is None:
        raise UserError("--resume needs --run-dir (the run folder to continue)")
    if args.backend == "rllib":
        return _train_rllib(args, env_id, env_kwargs)
    for option, value in (("--num-env-runners", args.num_env_runners), ("--envs-per-runner", args.envs_per_runner),
                          ("--address", args.address)):
        if value is not None:
            raise UserError(f"{option} is an option of '--backend rllib'")
    import importlib

    try:
        train_module = importlib.import_module("feedbackgym.agents.train")
    except ModuleNotFoundError as e:
        if e.name == "feedbackgym.agents.train":
            raise UserError("training is not available: module feedbackgym.agents.train is missing "
                            "from this installation") from None
        raise
    result = train_module.train(env_id, args.algo, timesteps=args.timesteps, seed=args.seed,
                                hyperparams=args.hyperparams, env_kwargs=env_kwargs or None,
                                run_dir=args.run_dir, resume=args.resume,
                                progress_bar=not args.no_progress_bar, eval_freq=args.eval_freq)
    if isinstance(result, (str, os.PathLike)):
        print(f"run folder: {result}")
    else:
        run_dir = getattr(result, "run_dir", None)
        if run_dir is not None:
            print(f"run folder: {run_dir}")
    return 0


def _train_rllib(args, env_id: str, env_kwargs: dict) -> int:
    for option, value in (("--hyperparams", args.hyperparams), ("--eval-freq", args.eval_freq)):
        if value is not None:
            raise UserError(f"{option} is an option of the sb3 backend, not of '--backend rllib'")
    if args.num_env_runners is not None and args.num_env_runners < 0:
        raise UserError(f"--num-env-runners: expected an integer >= 0, got {args.num_env_runners}")
    try:
        import ray  # noqa: F401
        from .agents import rllib_backend
    except ModuleNotFoundError as e:
        raise UserError(f"--backend rllib needs the 'distributed' extra (missing module {e.name!r}): "
                        "pip install 'feedbackgym[distributed]'") from None
    run_dir = rllib_backend.train(env_id, args.algo, timesteps=args.timesteps or 20_000, seed=args.seed,
                                  env_kwargs=env_kwargs, run_dir=args.run_dir, resume=args.resume,
                                  num_env_runners=1 if args.num_env_runners is None else args.num_env_runners,
                                  envs_per_runner=args.envs_per_runner or 1, address=args.address)
    print(f"run folder: {run_dir}")
    return 0


# -------------------------------------------------------------------------------------- main


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _error(message: str) -> int:
    print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr, flush=True)
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as e:  # --help, --version
            return int(e.code or 0) if not isinstance(e.code, str) else _error(e.code)
        if args.command is None:
            raise UserError("a command is required: list, baselines, evaluate, compare, bench, train "
                            f"(see '{PROG} --help')")
        args.argv = argv
        return args.func(args)
    except UserError as e:
        return _error(str(e))
    except (ValueError, OSError, ModuleNotFoundError) as e:
        if os.environ.get("FEEDBACKGYM_DEBUG") and not isinstance(e, BrokenPipeError):
            raise
        return _report(e)
    except KeyboardInterrupt:
        _say(f"{PROG}: interrupted")
        return 130


def _report(e: BaseException) -> int:
    """One line for an error the library raised about the user's input or files."""
    if isinstance(e, BrokenPipeError):  # `feedbackgym list | head`: not an error
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0
    if isinstance(e, ModuleNotFoundError):
        top = (e.name or "").split(".")[0]
        if top in _TRAIN_EXTRA:
            return _error(f"this needs the 'train' extra (missing module {top!r}): pip install 'feedbackgym[train]'")
        return _error(f"missing module {e.name!r} ({e})")
    if isinstance(e, FileNotFoundError) and e.filename is not None:
        return _error(f"{e.filename}: no such file or folder")
    # the library's ValueErrors name the field, file and line; OSError: unreadable inputs etc.
    return _error(str(e))


if __name__ == "__main__":
    sys.exit(main())
