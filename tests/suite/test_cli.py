"""The ``feedbackgym`` command line, run in-process through ``main(argv) -> exit status``."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from feedbackgym import __version__
from feedbackgym.agents.compare import Comparison
from feedbackgym.agents.evaluation import EvalResult, evaluate
from feedbackgym.cli import main
from feedbackgym.registration import describe, env_ids

ABR = "feedbackgym/AbrStreaming-v0"
PENSIEVE = '{"mode": "pensieve"}'
FCC = Path(__file__).resolve().parents[2] / "feedbackgym/envs/abr/_data/traces/fcc_test_290"
#: three fcc_test traces, copied under names whose sorted order differs from this order
PICKS = {"c_trace": 7, "a_trace": 150, "b_trace": 42}


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("feedbackgym: error: "), err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], (n, lines[0])


@pytest.fixture(scope="module")
def fcc_names() -> list[str]:
    return sorted(p.name for p in FCC.iterdir() if p.name != "SHA256SUMS" and not p.name.endswith(".sha256"))


@pytest.fixture(scope="module")
def three_traces(tmp_path_factory, fcc_names) -> Path:
    d = tmp_path_factory.mktemp("traces")
    for name, k in PICKS.items():  # created in c, a, b order
        shutil.copy(FCC / fcc_names[k], d / name)
    return d


@pytest.fixture(scope="module")
def bb_fcc_per_trace(fcc_names) -> dict[str, float]:
    """bb's QoE per chunk on every fcc_test trace, from the library (pensieve mode)."""
    res = evaluate(ABR, "bb", env_kwargs={"mode": "pensieve"}, traces="fcc_test")
    return {e["trace"]: e["qoe_per_chunk"] for e in res.episodes}


# ------------------------------------------------------------------------------- list etc.


def test_list_prints_every_id_with_description(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == len(env_ids())
    for env_id, line in zip(env_ids(), lines):
        assert line.startswith(env_id) and describe(env_id) in line


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and __version__ in out


@pytest.mark.parametrize("command", ["list", "baselines", "evaluate", "compare", "bench", "train"])
def test_every_command_has_help(capsys, command):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0 and "usage: feedbackgym " + command in out


def test_baselines_lists_names_and_descriptions(capsys):
    code, out, _ = run(capsys, "baselines", ABR)
    assert code == 0
    names = {line.split()[0] for line in out.strip().splitlines()}
    assert {"bb", "rb", "bola", "robust_mpc", "optimal"} <= names
    assert "reservoir 5 s" in out


def test_short_and_prefixed_ids_are_accepted(capsys):
    for form in ("AbrStreaming-v0", f"feedbackgym:{ABR}"):
        code, out, _ = run(capsys, "baselines", form)
        assert code == 0 and "bb" in out


def test_console_script_runs_list():
    exe = Path(sys.executable).with_name("feedbackgym")
    cmd = [str(exe), "list"] if exe.exists() else [sys.executable, "-m", "feedbackgym.cli", "list"]
    proc = subprocess.run(cmd, capture_output=True, text=True)  # no wall-clock limit in tests
    assert proc.returncode == 0 and ABR in proc.stdout


# -------------------------------------------------------------------------------- evaluate


def test_evaluate_trace_folder_plays_each_trace_once_in_sorted_order(capsys, tmp_path, three_traces, fcc_names,
                                                                     bb_fcc_per_trace):
    out_json, traj = tmp_path / "out" / "bb.json", tmp_path / "bb.csv"
    code, out, _ = run(capsys, "evaluate", ABR, "--policy", "bb", "--env-kwargs", PENSIEVE,
                       "--traces", three_traces, "--out", out_json, "--trajectory", traj)
    assert code == 0
    assert "qoe_per_chunk" in out
    data = json.loads(out_json.read_text())
    eps = data["episodes"]
    assert [e["trace"] for e in eps] == ["a_trace", "b_trace", "c_trace"]
    agg = data["aggregate"]
    assert agg["episodes"] == 3
    assert agg["qoe_per_chunk"] == pytest.approx(np.mean([e["qoe_per_chunk"] for e in eps]), abs=1e-12)
    assert {"mean_reward_per_step", "mean_episode_reward", "rebuffer_ratio", "switches"} <= set(agg)
    # each copied trace scores what it scores inside the bundled split
    for e in eps:
        assert e["qoe_per_chunk"] == pytest.approx(bb_fcc_per_trace[fcc_names[PICKS[e["trace"]]]], abs=1e-12)

    with traj.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == sum(e["steps"] for e in eps) == 3 * 47
    for col in ("episode", "step", "action", "reward", "reward_bitrate_mbps", "reward_rebuffer_s",
                "reward_switch_mbps", "buffer_s"):
        assert col in rows[0]
    assert [int(r["step"]) for r in rows[:3]] == [0, 1, 2]
    ep0 = [float(r["reward"]) for r in rows if r["episode"] == "0"]
    assert sum(ep0) == pytest.approx(eps[0]["episode_reward"])


def test_evaluate_episodes_limits_the_trace_set(capsys, tmp_path, three_traces):
    out_json = tmp_path / "two.json"
    code, _, _ = run(capsys, "evaluate", ABR, "--policy", "rb", "--env-kwargs", PENSIEVE,
                     "--traces", three_traces, "--episodes", 2, "--out", out_json)
    assert code == 0
    assert [e["trace"] for e in json.loads(out_json.read_text())["episodes"]] == ["a_trace", "b_trace"]


# --------------------------------------------------------------------------------- compare


def test_compare_reference_numbers_on_fcc_test(capsys, tmp_path):
    """The brief's reference QoE per chunk (pensieve mode, fcc_test), through the CLI."""
    code, out, _ = run(capsys, "compare", ABR, "--policies", "bb,rb,robust_mpc,bola", "--env-kwargs", PENSIEVE,
                       "--traces", "fcc_test", "--out-dir", tmp_path, "--no-plot")
    assert code == 0
    data = json.loads((tmp_path / "compare.json").read_text())
    assert data["metric"] == "qoe_per_chunk" and data["episodes"] == 290
    got = {p: v["aggregate"]["qoe_per_chunk"] for p, v in data["policies"].items()}
    assert got["bb"] == pytest.approx(0.773256, abs=1e-6)
    assert got["rb"] == pytest.approx(0.8533, abs=1e-4)
    assert got["robust_mpc"] == pytest.approx(1.0283, abs=1e-4)
    assert got["bola"] == pytest.approx(0.7888, abs=1e-4)
    assert "| bb | 0.7733 |" in out
    assert not (tmp_path / "compare_cdf.png").exists()


def test_compare_writes_table_json_csv_and_plot(capsys, tmp_path, three_traces):
    out_dir = tmp_path / "cmp"
    code, out, err = run(capsys, "compare", ABR, "--policies", "bb, rb", "--env-kwargs", PENSIEVE,
                         "--traces", three_traces, "--out-dir", out_dir)
    assert code == 0, err
    assert out.count("\n| bb |") == 1 and "| rb |" in out and "qoe_per_chunk" in out
    md = (out_dir / "compare.md").read_text()
    assert "| policy | qoe_per_chunk |" in md
    data = json.loads((out_dir / "compare.json").read_text())
    assert list(data["policies"]) == ["bb", "rb"]
    for v in data["policies"].values():
        assert [e["trace"] for e in v["episodes"]] == ["a_trace", "b_trace", "c_trace"]
        assert v["aggregate"]["qoe_per_chunk"] == pytest.approx(np.mean([e["qoe_per_chunk"] for e in v["episodes"]]))
    with (out_dir / "compare_episodes.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["policy"], r["trace"]) for r in rows][:4] == [("bb", "a_trace"), ("bb", "b_trace"),
                                                             ("bb", "c_trace"), ("rb", "a_trace")]
    png = (out_dir / "compare_cdf.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def _result(policy: str, values: list[float]) -> EvalResult:
    eps = [{"episode": i, "trace": f"t{i}", "qoe_per_chunk": v, "mean_reward_per_step": v}
           for i, v in enumerate(values)]
    agg = {"episodes": len(values), "qoe_per_chunk": float(np.mean(values)),
           "mean_reward_per_step": float(np.mean(values))}
    return EvalResult(ABR, policy, {}, eps, agg)


def test_percent_of_optimal_and_plot(tmp_path):
    from feedbackgym.agents.compare import plot_cdf

    c = Comparison(ABR, {}, "qoe_per_chunk", [_result("bb", [0.5, 1.0]), _result("optimal", [1.0, 2.0])])
    assert c.percent_of_optimal() == pytest.approx({"bb": 50.0, "optimal": 100.0})
    header, rows = c.table_rows()
    assert header[:3] == ["policy", "qoe_per_chunk", "% of optimal"]
    assert rows[0][:3] == ["bb", "0.7500", "50.0"]
    plot_cdf(c, tmp_path / "cdf.png")
    assert (tmp_path / "cdf.png").read_bytes()[:4] == b"\x89PNG"
    assert Comparison(ABR, {}, "qoe_per_chunk", [_result("bb", [1.0])]).percent_of_optimal() is None


# ----------------------------------------------------------------------------------- bench


def test_bench_tiny_run_writes_markdown_and_json(capsys, tmp_path):
    md, js = tmp_path / "bench.md", tmp_path / "bench.json"
    args = ["bench", ABR, "--num-envs", 4, "--sync-envs", 2, "--steps", 60, "--repeats", 1, "--min-seconds", 0]
    code, out, _ = run(capsys, *args, "--out", md)
    assert code == 0
    for name in ("single (raw)", "single (gym.make)", "SyncVectorEnv", "vector twin"):
        assert name in out and name in md.read_text()
    assert "SyncVectorEnv (N=2)" in out
    code, _, _ = run(capsys, *args, "--only", "sync,twin", "--out", js)
    assert code == 0
    data = json.loads(js.read_text())
    rows = {r["name"]: r for r in data["rows"]}
    assert set(rows) == {"SyncVectorEnv", "vector twin"}
    assert rows["vector twin"]["env_class"].endswith("AbrStreamingVectorEnv")
    assert rows["SyncVectorEnv"]["env_class"].endswith("SyncVectorEnv")
    assert rows["vector twin"]["steps"] == 4 * 15  # ceil(60 / 4) batched steps of 4
    assert data["twin_vs_sync_ratio"] > 0
    assert data["command"].startswith("feedbackgym bench")


# ----------------------------------------------------------------------------------- train


def test_train_dispatches_to_the_trainer(capsys, monkeypatch, tmp_path):
    calls = []
    fake = types.ModuleType("feedbackgym.agents.train")
    fake.train = lambda *a, **kw: calls.append((a, kw)) or tmp_path / "run"
    monkeypatch.setitem(sys.modules, "feedbackgym.agents.train", fake)
    code, out, _ = run(capsys, "train", "AbrStreaming-v0", "--algo", "PPO", "--timesteps", 5000, "--seed", 3,
                       "--env-kwargs", PENSIEVE, "--run-dir", tmp_path / "run", "--resume", "--no-progress-bar",
                       "--eval-freq", 1000)
    assert code == 0 and "run folder" in out
    assert calls == [((ABR, "ppo"), dict(timesteps=5000, seed=3, hyperparams=None, env_kwargs={"mode": "pensieve"},
                                         run_dir=str(tmp_path / "run"), resume=True, progress_bar=False,
                                         eval_freq=1000))]


def test_train_without_trainer_module_is_one_line(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "feedbackgym.agents.train", None)
    code, _, err = run(capsys, "train", ABR, "--algo", "dqn")
    assert_one_line_error(code, err, "feedbackgym.agents.train")


# ------------------------------------------------------------------------------ bad inputs


@pytest.fixture
def bad_trace_dir(tmp_path) -> Path:
    d = tmp_path / "bad"
    d.mkdir()
    (d / "good").write_text("0 1.0\n1 2.0\n2 3.0\n")
    (d / "broken").write_text("0 1.0\n1 2.0\n2 fast\n3 1.0\n")
    return d


@pytest.mark.parametrize("argv, needles", [
    (["evaluate", "Nope-v9", "--policy", "bb"], ["unknown env id", "Nope-v9", ABR]),
    (["evaluate", ABR, "--policy", "no_such_policy"], ["no_such_policy", "bb"]),
    (["evaluate", ABR, "--policy", "missing/model.zip"], ["missing/model.zip", "no such model file"]),
    (["evaluate", ABR, "--policy", "bb", "--env-kwargs", "{mode: pensieve}"], ["--env-kwargs", "malformed JSON"]),
    (["evaluate", ABR, "--policy", "bb", "--env-kwargs", "[1, 2]"], ["--env-kwargs", "JSON object", "list"]),
    (["evaluate", ABR, "--policy", "bb", "--env-kwargs", '{"bufer_cap_s": 30}'], ["unknown field", "bufer_cap_s"]),
    (["evaluate", ABR, "--policy", "bb", "--env-kwargs", '{"rtt_ms": -1}'], ["rtt_ms", "-1"]),
    (["evaluate", ABR, "--policy", "bb", "--traces", "/no/such/traces"], ["/no/such/traces"]),
    (["evaluate", ABR, "--policy", "bb", "--episodes", "0"], ["--episodes", "'0'"]),
    (["evaluate", ABR], ["--policy"]),
    (["compare", ABR, "--policies", "bb,nope"], ["'nope'"]),
    (["compare", ABR, "--policies", "bb,bb"], ["'bb'", "twice"]),
    (["bench", ABR, "--only", "warp", "--steps", "10"], ["warp"]),
    (["train", ABR, "--algo", "sac"], ["--algo", "sac"]),
    (["train", ABR, "--algo", "ppo", "--hyperparams", "/no/such.yml"], ["/no/such.yml"]),
    (["frobnicate"], ["frobnicate"]),
    ([], ["command is required"]),
])
def test_bad_input_is_one_clear_line(capsys, argv, needles):
    code, _, err = run(capsys, *argv)
    assert_one_line_error(code, err, *needles)


def test_malformed_trace_file_names_file_and_line(capsys, bad_trace_dir):
    code, _, err = run(capsys, "evaluate", ABR, "--policy", "bb", "--env-kwargs", PENSIEVE,
                       "--traces", bad_trace_dir)
    assert_one_line_error(code, err, str(bad_trace_dir / "broken") + ":3", "fast")


def test_unwritable_output_is_one_line(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run(capsys, "evaluate", ABR, "--policy", "bb", "--traces", "fcc_test", "--episodes", 1,
                       "--out", blocker / "out.json")
    assert_one_line_error(code, err, "--out", str(blocker / "out.json"))


def _no_work(*a, **k):
    raise AssertionError("the work started before the output was checked")


@pytest.mark.parametrize("option", ["--out", "--trajectory"])
def test_unwritable_evaluate_output_fails_before_the_work(capsys, tmp_path, monkeypatch, option):
    import feedbackgym.agents.evaluation as evaluation

    monkeypatch.setattr(evaluation, "evaluate", _no_work)
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run(capsys, "evaluate", ABR, "--policy", "optimal", "--traces", "fcc_test", option,
                       blocker / "x" / "out")
    assert_one_line_error(code, err, option, str(blocker / "x" / "out"), "cannot write")
    code, _, err = run(capsys, "evaluate", ABR, "--policy", "optimal", option, tmp_path)  # a folder
    assert_one_line_error(code, err, option, "is a folder")


def test_unwritable_compare_out_dir_fails_before_the_work(capsys, tmp_path, monkeypatch):
    import feedbackgym.agents.compare as compare_mod

    monkeypatch.setattr(compare_mod, "compare", _no_work)
    blocker = tmp_path / "file"
    blocker.write_text("")
    for target in (blocker, blocker / "sub"):
        code, _, err = run(capsys, "compare", ABR, "--policies", "bb,optimal", "--out-dir", target)
        assert_one_line_error(code, err, "--out-dir", str(target))


def test_compare_loads_every_policy_before_playing_any(monkeypatch):
    import feedbackgym.agents.compare as compare_mod

    real = compare_mod.make_policy

    def make_policy(env_id, spec, env=None):
        if spec == "rb":
            raise ValueError("policy 'rb': corrupt model part")
        return real(env_id, spec, env=env)

    monkeypatch.setattr(compare_mod, "make_policy", make_policy)
    monkeypatch.setattr(compare_mod, "evaluate", _no_work)
    with pytest.raises(ValueError, match="corrupt model part"):
        compare_mod.compare(ABR, ["bb", "rb"], traces="fcc_test", episodes=1)


def test_compare_writes_what_was_scored_when_a_later_policy_fails(capsys, tmp_path, monkeypatch):
    import feedbackgym.agents.compare as compare_mod

    real = compare_mod.evaluate

    def evaluate(env_id, spec, **kw):
        if spec == "rb":
            raise ValueError("rb fell over mid-way")
        return real(env_id, spec, **kw)

    monkeypatch.setattr(compare_mod, "evaluate", evaluate)
    code, out, err = run(capsys, "compare", ABR, "--policies", "bb,lowest,rb,bola", "--traces", "fcc_test",
                         "--episodes", 2, "--out-dir", tmp_path / "cmp", "--no-plot")
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("feedbackgym: error: ")]
    assert code != 0 and len(lines) == 1 and "Traceback" not in err
    assert "policy 'rb' failed" in lines[0] and "rb fell over" in lines[0] and "bb, lowest" in lines[0]
    saved = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert list(saved["policies"]) == ["bb", "lowest"] and "bola" not in out
    with pytest.raises(compare_mod.ComparisonIncomplete) as e:
        compare_mod.compare(ABR, ["bb", "rb"], traces="fcc_test", episodes=1)
    assert e.value.policy == "rb" and [r.policy for r in e.value.partial.results] == ["bb"]


def test_unwritable_bench_and_tensorboard_outputs_fail_before_the_work(capsys, tmp_path, monkeypatch):
    import feedbackgym.agents.evaluation as evaluation
    import feedbackgym.bench as bench

    monkeypatch.setattr(bench, "bench", _no_work)
    monkeypatch.setattr(evaluation, "evaluate", _no_work)
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run(capsys, "bench", ABR, "--out", blocker / "bench.md")
    assert_one_line_error(code, err, "--out", "cannot write")
    code, _, err = run(capsys, "evaluate", ABR, "--policy", "bb", "--tensorboard", blocker)
    assert_one_line_error(code, err, "--tensorboard", "is a file")
