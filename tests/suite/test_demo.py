"""`make demo` runs end to end (tiny budget): baselines, training, comparison, plot."""

import pytest

pytest.importorskip("stable_baselines3")

from feedbackgym import demo  # noqa: E402


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path, capsys):
    assert demo.main(["--timesteps", "2048", "--bc-episodes", "3", "--out", str(tmp_path), "--no-progress-bar",
                      "--test-traces", "hsdpa_holdout"]) == 0
    out = capsys.readouterr().out
    assert "robust_mpc" in out and "tensorboard --logdir" in out
    compare = tmp_path / "compare"
    assert (compare / "compare.md").is_file() and (compare / "compare_cdf.png").stat().st_size > 0
    run = next(tmp_path.glob("ppo_*"))
    assert (run / "model.zip").is_file() and any((run / "tb").rglob("events.out.tfevents*"))
