"""The ABR family's declaration: what generic code (evaluate, compare, train, bench, the CLI and
the registry-wide tests) knows about ``feedbackgym/AbrStreaming-v0``. See :mod:`feedbackgym.family`."""

from __future__ import annotations

from ...family import EnvSpec, EveryItemOnce, Family, Metric, SeededEpisodes

_BASE = "feedbackgym.agents.baselines.abr"

FAMILY = Family(
    name="abr",
    description="adaptive bitrate video streaming (Netflix / Pensieve)",
    # The field's test protocol (Pensieve's test simulator): deterministic, every trace from its
    # first row, in sorted order, no delay noise.
    protocol={"trace_order": "sequential", "random_start": False, "delay_noise": None},
    episode_plan=EveryItemOnce("num_traces", "trace_index", fallback=SeededEpisodes(10),
                               only_if=("trace_order", "sequential")),
    label_key="trace_name",
    label_field="trace",
    id_keys=("trace_index",),
    data_field="traces",
    data_sets=("train", "fcc_test", "train_fit", "hsdpa_holdout", "fcc_test_clean", "train_route_fit",
               "hsdpa_route_holdout", "synthetic"),
    metrics=(
        Metric("qoe_per_chunk", doc="QoE per chunk (Pensieve's per-trace score)", higher_is_better=True),
        Metric("mean_bitrate_mbps", doc="mean bitrate of the chunks played, Mbps", higher_is_better=True),
        Metric("rebuffer_s", doc="total stall time, s", higher_is_better=False),
        Metric("rebuffer_ratio", doc="stall time / (stall + play time)", higher_is_better=False),
        Metric("switches", doc="bitrate switches per video", higher_is_better=False),
        Metric("startup_s", doc="first chunk's download time (default mode), s", higher_is_better=False),
    ),
    headline="qoe_per_chunk",
    table_columns=("mean_bitrate_mbps", "rebuffer_s", "rebuffer_ratio", "switches", "startup_s"),
    reference_policy="optimal",
    baselines={
        "bb": (f"{_BASE}:BufferBased", {}, "buffer-based (BBA): reservoir 5 s, cushion 10 s"),
        "rb": (f"{_BASE}:RateBased", {}, "rate-based: highest level <= harmonic mean of last 5 throughputs"),
        "bola": (f"{_BASE}:Bola", {}, "BOLA-BASIC (Lyapunov, utility ln(S/S_min), gamma_p = 5)"),
        "robust_mpc": (f"{_BASE}:RobustMpc", {}, "robustMPC, horizon 5, clean (sizes of the chunk chosen, "
                                                  "per-video errors)"),
        "robust_mpc_pensieve": (f"{_BASE}:RobustMpc", {"pensieve_bugs": True},
                                "robustMPC exactly as Pensieve's test/mpc.py, both bugs kept"),
        "lowest": (f"{_BASE}:ConstantLevel", {"level": 0}, "always the lowest level (sanity floor)"),
        "optimal": (f"{_BASE}_optimal:OfflineOptimal", {}, "offline optimum: dynamic program over the known trace"),
    },
    reward_components={
        "bitrate_mbps": "R_n, Mbps", "rebuffer_s": "stall while downloading chunk n, s",
        "switch_mbps": "|R_n - R_{n-1}|, Mbps", "log_quality": "ln(R_n / R_min)",
        "log_switch": "|ln R_n - ln R_{n-1}|", "hd_quality": "HD score of level n",
        "hd_switch": "|hd_n - hd_{n-1}|", "startup_s": "download time of the first chunk, s (default mode)",
    },
    test_variants=({}, {"mode": "pensieve"},
                   {"traces": "synthetic", "synthetic": {"bandwidth_mbps": [0.1, 30], "buffer_cap_s": [5, 30]}}),
    envs=[
        EnvSpec("feedbackgym/AbrStreaming-v0",
                entry_point="feedbackgym.envs.abr.env:AbrStreamingEnv",
                vector_entry_point="feedbackgym.envs.abr.vector:AbrStreamingVectorEnv",
                config_class="feedbackgym.envs.abr.config:AbrConfig",
                description="Adaptive bitrate streaming over real network traces (Pensieve simulator; "
                            "QoE = quality - rebuffering - switches)"),
    ],
)


def fuzz_targets() -> list[dict]:
    """The family's file loaders, for the shared bad-input harness (tests/suite/test_fuzz_inputs.py).

    Each target: ``name``; ``files`` (file name -> a valid example; the harness replaces one file's
    content with hostile bytes or mutates a token); ``load(folder)`` loads them; optional
    ``use(result, folder)`` exercises what loaded (plays an episode), since a value the loader
    accepts must not crash the simulator later. Any failure must be a ``ValueError`` naming the file.
    """
    from .env import AbrStreamingEnv
    from .traces import load_trace
    from .video import load_video

    def play(**kwargs):
        env = AbrStreamingEnv(trace_order="sequential", random_start=False, delay_noise=None, **kwargs)
        for level in (0, env.action_space.n - 1):  # the smallest and the largest chunks
            env.reset()
            done = False
            while not done:
                done = env.step(level)[2]

    def play_trace(_, folder):
        play(traces=str(folder / "trace"))
        play(traces=str(folder / "trace"), mode="pensieve")

    def play_json(_, folder):
        play(traces=str(folder / "trace.json"))

    def play_video(_, folder):
        play(video=str(folder), traces="fcc_test")

    def play_video_json(_, folder):
        play(video=str(folder / "video.json"), traces="fcc_test")

    sizes = "\n".join(str(1000 + 17 * i) for i in range(5)) + "\n"
    return [
        dict(name="abr trace, two columns", files={"trace": "0 1.5\n1 2.0\n2.5 0.3\n4 8.0\n"},
             load=lambda d: load_trace(d / "trace"), use=play_trace),
        dict(name="abr trace, mahimahi", files={"trace": "0\n3\n3\n250\n600\n1200\n"},
             load=lambda d: load_trace(d / "trace", "mahimahi"), use=play_trace),
        dict(name="abr trace, sabre json",
             files={"trace.json": '[{"duration_ms": 2000, "bandwidth_kbps": 1500}, '
                                  '{"duration_ms": 500, "bandwidth_kbps": 300}]'},
             load=lambda d: load_trace(d / "trace.json"), use=play_json),
        dict(name="abr video json", files={"video.json": '{"bitrates_kbps": [300, 1200], "chunk_s": 4, '
                                                         '"chunk_bytes": [[150000, 160000, 140000], '
                                                         '[600000, 610000, 590000]]}'},
             load=lambda d: load_video(d / "video.json"), use=play_video_json),
        dict(name="abr video folder", files={"video_size_0": sizes, "video_size_1": sizes.replace("1", "3"),
                                             "video.json": '{"bitrates_kbps": [300, 750], "chunk_s": 4}'},
             load=lambda d: load_video(d), use=play_video),
    ]
