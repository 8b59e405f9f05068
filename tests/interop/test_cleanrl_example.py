"""``examples/cleanrl_ppo.py``: a CleanRL-style PPO runs through the vector twin and logs episodes.

CleanRL's own ``ppo.py`` logs no episode on Gymnasium 1.x (it reads ``final_info``); the example
reads ``RecordEpisodeStatistics``' ``infos["episode"]``. Run in a subprocess, as a user would.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cleanrl_ppo.py"


@pytest.mark.slow
def test_cleanrl_style_ppo_logs_episode_returns(tmp_path):
    out = subprocess.run([sys.executable, str(EXAMPLE), "--total-timesteps", "1024", "--num-envs", "4",
                          "--num-steps", "128", "--tensorboard", str(tmp_path / "tb")],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    episodes = re.findall(r"episodic_return=(-?[\d.]+(?:e[-+]?\d+)?), episodic_length=(\d+)", out.stdout)
    assert len(episodes) >= 4, out.stdout[-2000:]
    assert all(int(length) > 0 for _, length in episodes)
    assert "iteration=2/2" in out.stdout
    assert any((tmp_path / "tb").iterdir())
