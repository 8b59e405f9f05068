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
    data_sets=("train", "fcc_test", "train_fit", "hsdpa_holdout", "synthetic"),
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
