"""``evaluate``/``compare --tensorboard DIR`` read back through a real TensorBoard server.

The runs are written by the CLI, a ``tensorboard`` process serves them on a free port of
127.0.0.1, and the test reads scalars, histograms, images and the HParams session groups over
TensorBoard's HTTP data API, as the dashboards do. Generic: the first declared id and its first
two baselines, on the family's quick test kwargs.
"""

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

pytest.importorskip("tensorboard")
pytest.importorskip("torch")

from feedbackgym import family  # noqa: E402
from feedbackgym.cli import main  # noqa: E402
from feedbackgym.registration import env_ids  # noqa: E402

ENV_ID = env_ids()[0]
POLICIES = list(family.spec(ENV_ID).baselines)[:2]
EPISODES = 3


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    def __init__(self, logdir):
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
             "--port", str(self.port), "--load_fast=false", "--reload_interval", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def get(self, path, body=None):
        headers = {"X-XSRF-Protected": "1", "Content-Type": "application/json"} if body is not None else {}
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers,
                                     data=None if body is None else json.dumps(body).encode())
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def wait_for_runs(self, expected, attempts=240):
        """Poll until every expected run is loaded (bounded by attempts, not asserted as a time)."""
        for _ in range(attempts):
            if self.proc.poll() is not None:
                raise AssertionError(f"tensorboard exited: {self.proc.stderr.read().decode()[-2000:]}")
            try:
                tags = self.get("/data/plugin/scalars/tags")
                if all(r in tags and f"aggregate/{family.headline(ENV_ID)}" in tags[r] for r in expected):
                    return tags
            except (urllib.error.URLError, ConnectionError, json.JSONDecodeError):
                pass
            time.sleep(0.5)
        raise AssertionError(f"tensorboard never served runs {expected}")

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.mark.slow
def test_compare_runs_read_back_through_tensorboard(tmp_path):
    logdir = tmp_path / "tb"
    kwargs = json.dumps(family.spec(ENV_ID).test_kwargs)
    assert main(["compare", ENV_ID, "--policies", ",".join(POLICIES), "--episodes", str(EPISODES),
                 "--env-kwargs", kwargs, "--tensorboard", str(logdir), "--out-dir", str(tmp_path / "cmp")]) == 0
    results = json.loads((tmp_path / "cmp" / "compare.json").read_text())["policies"]
    server = _Server(logdir)
    try:
        tags = server.wait_for_runs(POLICIES)
        headline = family.headline(ENV_ID)
        for policy in POLICIES:
            points = server.get(f"/data/plugin/scalars/scalars?run={policy}&tag=episode/{headline}")
            assert [p[1] for p in points] == list(range(EPISODES))  # one point per episode index
            expected = [e[headline] for e in results[policy]["episodes"]]
            assert [p[2] for p in points] == pytest.approx(expected, rel=1e-6)
            agg = server.get(f"/data/plugin/scalars/scalars?run={policy}&tag=aggregate/{headline}")
            assert agg[0][2] == pytest.approx(results[policy]["aggregate"][headline], rel=1e-6)
        hist = server.get("/data/plugin/histograms/tags")
        assert f"distribution/{headline}" in hist[POLICIES[0]]
        images = server.get("/data/plugin/images/tags")
        assert "comparison/cdf" in images["comparison"]
        assert "comparison" not in tags or not any(t.startswith("aggregate/") for t in tags["comparison"])

        groups = server.get("/data/plugin/hparams/session_groups", {
            "experimentName": "", "allowedStatuses": ["STATUS_SUCCESS", "STATUS_UNKNOWN"],
            "colParams": [], "startIndex": 0, "sliceSize": 100})["sessionGroups"]
        by_policy = {g["hparams"]["policy"]: g for g in groups}
        assert set(by_policy) == set(POLICIES)
        for policy in POLICIES:
            g = by_policy[policy]
            assert g["hparams"]["env_id"] == ENV_ID
            for k, v in family.spec(ENV_ID).test_kwargs.items():
                assert g["hparams"][f"env/{k}"] in (v, json.dumps(v, sort_keys=True))
            metrics = {m["name"]["tag"]: m["value"] for m in g["metricValues"]}
            assert metrics[f"aggregate/{headline}"] == pytest.approx(results[policy]["aggregate"][headline],
                                                                      rel=1e-6)
        experiment = server.get("/data/plugin/hparams/experiment", {"experimentName": ""})
        assert {"policy", "env_id"} <= {h["name"] for h in experiment["hparamInfos"]}
    finally:
        server.close()


def test_evaluate_twice_into_one_folder_keeps_both_runs(tmp_path):
    logdir = tmp_path / "tb"
    for _ in range(2):
        assert main(["evaluate", ENV_ID, "--policy", POLICIES[0], "--episodes", "1", "--env-kwargs",
                     json.dumps(family.spec(ENV_ID).test_kwargs), "--tensorboard", str(logdir)]) == 0
    assert sorted(p.name for p in logdir.iterdir()) == [POLICIES[0], f"{POLICIES[0]}-2"]
