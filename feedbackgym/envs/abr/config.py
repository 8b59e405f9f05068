"""Configuration of the ABR streaming env (``feedbackgym/AbrStreaming-v0``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...config import boolean, interval, number, one_of, param, validate


def _traces(name, v):
    if not isinstance(v, str) or not v:
        raise ValueError(f"{name}: expected 'train', 'fcc_test', 'synthetic' or a path to a trace file/folder, "
                         f"got {v!r}")
    return v


def _video(name, v):
    if not (isinstance(v, dict) or (isinstance(v, str) and v)):
        raise ValueError(f"{name}: expected 'envivio', a path, or a dict with bitrates_kbps, got {v!r}")
    return v


def _reward(name, v):
    if not (isinstance(v, (str, dict)) or callable(v)):
        raise ValueError(f"{name}: expected a reward name, weights dict, 'module:function' or callable, got {v!r}")
    return v


def _hd_scores(name, v):
    if v is None:
        return None
    if not isinstance(v, (list, tuple)) or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
        raise ValueError(f"{name}: expected a list of numbers (one per ladder level) or null, got {v!r}")
    return tuple(float(x) for x in v)


def _synthetic(name, v):
    if v is not None and not isinstance(v, dict):
        raise ValueError(f"{name}: expected a dict of synthetic-trace ranges or null, got {v!r}")
    return v


@dataclass(frozen=True)
class AbrConfig:
    """Every knob of the ABR env. Defaults give a training env over the bundled training traces."""

    mode: str = param("default", "'pensieve' reproduces Pensieve's simulator (48 chunks, first chunk at "
                      "first_level, RTT off the link clock); 'default' fixes those quirks",
                      one_of("default", "pensieve"))
    traces: str = param("train", "'train' (train_127), 'fcc_test' (fcc_test_290), 'synthetic', or a path to a "
                        "trace file or folder", _traces)
    trace_format: str = param("auto", "format of trace files: auto, two_column, mahimahi, sabre_json",
                              one_of("auto", "two_column", "mahimahi", "sabre_json"))
    mahimahi_bin_ms: float = param(500.0, "bin width used to turn Mahimahi packet times into throughput",
                                   number(1.0, 60000.0))
    trace_order: str = param("random", "'random': each episode a random trace; 'sequential': traces in sorted "
                             "order, one per episode", one_of("random", "sequential"))
    random_start: bool = param(True, "start each episode at a random trace row (Pensieve training) instead of row 1",
                               boolean)
    delay_noise: Any = param((0.9, 1.1), "multiply each chunk's delay by U(low, high) (Pensieve training), or null",
                             interval(0.0, 10.0, allow_none=True))
    video: Any = param("envivio", "'envivio' (EnvivioDash3, 6 levels x 49 chunks), a JSON file, a folder of "
                       "video_size_<level> files, or {bitrates_kbps, chunk_s, chunk_bytes|chunks}", _video)
    rtt_ms: float = param(80.0, "round-trip time added to every chunk's delay, ms", number(0.0, 10000.0))
    buffer_cap_s: float = param(60.0, "the player sleeps while its buffer exceeds this, s",
                                number(0.0, 3600.0, lo_open=True))
    sleep_quantum_ms: float = param(500.0, "the player sleeps in multiples of this, ms",
                                    number(0.0, 60000.0, lo_open=True))
    first_level: int = param(1, "pensieve mode: level of the first chunk, played before the agent acts",
                             number(0, 1000, integer=True))
    observation_layout: str = param("flat", "'flat': Pensieve's 6 x max(8, L) state as a row-major vector (what "
                                    "MLP policies and SB3's checker expect); 'matrix': the 6 x max(8, L) array",
                                    one_of("flat", "matrix"))
    reward: Any = param("qoe_lin", "qoe_lin, qoe_log, qoe_hd, a weights dict over reward components, "
                        "'module:function' (trusted modules only, see feedbackgym.reward), or a callable", _reward)
    hd_scores: Any = param(None, "HD score per level for qoe_hd; null uses Pensieve's [1,2,3,12,15,20] "
                           "(6-level ladders only)", _hd_scores)
    synthetic: Any = param(None, "ranges for traces='synthetic' (see feedbackgym.envs.abr.synthetic)", _synthetic)

    def __post_init__(self):
        validate(self)

    @staticmethod
    def evaluation_overrides() -> dict:
        """The field's test protocol: deterministic, every trace from its first row, no noise."""
        return {"trace_order": "sequential", "random_start": False, "delay_noise": None}
