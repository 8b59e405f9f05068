"""Every ABR config field rejects bad values with a message naming the field."""

import gymnasium as gym
import pytest

import feedbackgym  # noqa: F401
from feedbackgym.config import describe
from feedbackgym.envs.abr import AbrConfig

BAD = [
    ("mode", "fast", "AbrConfig.mode"),
    ("traces", "", "AbrConfig.traces"),
    ("traces", 3, "AbrConfig.traces"),
    ("trace_format", "csv", "AbrConfig.trace_format"),
    ("mahimahi_bin_ms", 0, "AbrConfig.mahimahi_bin_ms"),
    ("trace_order", "shuffled", "AbrConfig.trace_order"),
    ("random_start", "yes", "AbrConfig.random_start"),
    ("delay_noise", [1.1, 0.9], "AbrConfig.delay_noise"),
    ("delay_noise", [0.9], "AbrConfig.delay_noise"),
    ("delay_noise", 1.0, "AbrConfig.delay_noise"),
    ("video", 5, "AbrConfig.video"),
    ("rtt_ms", -1, "AbrConfig.rtt_ms"),
    ("rtt_ms", float("nan"), "AbrConfig.rtt_ms"),
    ("rtt_ms", True, "AbrConfig.rtt_ms"),
    ("buffer_cap_s", 0, "AbrConfig.buffer_cap_s"),
    ("sleep_quantum_ms", -5, "AbrConfig.sleep_quantum_ms"),
    ("first_level", 1.5, "AbrConfig.first_level"),
    ("first_level", -1, "AbrConfig.first_level"),
    ("observation_layout", "image", "AbrConfig.observation_layout"),
    ("reward", 5, "AbrConfig.reward"),
    ("hd_scores", "high", "AbrConfig.hd_scores"),
    ("synthetic", [1, 2], "AbrConfig.synthetic"),
]


def test_every_field_is_covered():
    fields = {f for f, _, _ in BAD}
    assert fields == set(AbrConfig.__dataclass_fields__)


@pytest.mark.parametrize("field,value,match", BAD)
def test_bad_field_values_raise_naming_the_field(field, value, match):
    with pytest.raises(ValueError, match=match):
        gym.make("feedbackgym/AbrStreaming-v0", **{field: value})


def test_unknown_field_lists_known_ones():
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['buffer_s'\].*known fields"):
        gym.make("feedbackgym/AbrStreaming-v0", buffer_s=3)


def test_cross_field_checks():
    with pytest.raises(ValueError, match="first_level"):
        gym.make("feedbackgym/AbrStreaming-v0", mode="pensieve", first_level=6)
    with pytest.raises(ValueError, match="only used with traces='synthetic'"):
        gym.make("feedbackgym/AbrStreaming-v0", synthetic={"row_s": 1.0})
    with pytest.raises(ValueError, match="hd_scores: expected 6"):
        gym.make("feedbackgym/AbrStreaming-v0", hd_scores=[1, 2])


def test_lists_are_normalised_and_documented():
    cfg = AbrConfig(delay_noise=[0.8, 1.2])
    assert cfg.delay_noise == (0.8, 1.2)
    text = describe(AbrConfig)
    assert all(name in text for name in AbrConfig.__dataclass_fields__)
