"""The reward registry: names, weights dicts, import strings, callables."""

import pytest

from feedbackgym import reward
from feedbackgym.reward import LinearReward, list_rewards, register_reward, resolve


def test_presets_have_the_papers_parameters():
    names = list_rewards("abr")
    assert {"qoe_lin", "qoe_log", "qoe_hd"} <= set(names)
    lin = resolve("qoe_lin").as_dict()
    assert lin["bitrate_mbps"] == 1 and lin["rebuffer_s"] == -4.3 and lin["switch_mbps"] == -1
    assert resolve("qoe_log").as_dict()["rebuffer_s"] == -2.66
    assert resolve("qoe_hd").as_dict()["rebuffer_s"] == -8


def test_weights_dict_drops_zero_terms_keeps_order():
    r = resolve({"a": 1, "b": 0, "c": -2})
    assert isinstance(r, LinearReward) and r.weights == (("a", 1.0), ("c", -2.0))
    assert r({"a": 3.0, "b": 100.0, "c": 1.0}) == 1.0


def test_register_custom_and_duplicates():
    register_reward("test_only_bitrate", {"bitrate_mbps": 1.0}, domain="abr", description="bitrate only")
    assert resolve("test_only_bitrate", components=("bitrate_mbps",))({"bitrate_mbps": 2.0}) == 2.0
    assert "test_only_bitrate" in list_rewards("abr") and "test_only_bitrate" not in list_rewards("market")
    with pytest.raises(ValueError, match="already registered"):
        register_reward("test_only_bitrate", {"bitrate_mbps": 2.0})
    register_reward("test_only_bitrate", lambda c: 0.0, overwrite=True)
    with pytest.raises(ValueError, match="for the 'abr' domain"):
        resolve("qoe_lin", domain="cluster")


def test_import_string_resolves_functions_and_dicts():
    fn = resolve("tests.abr.rewards_for_tests:bitrate_minus_10_rebuffer")
    assert fn({"bitrate_mbps": 1.0, "rebuffer_s": 0.1}) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="has no attribute"):
        resolve("tests.abr.rewards_for_tests:nope")


@pytest.mark.parametrize("spec,match", [
    (3, "must be a name"),
    ("", "unknown reward"),
    ({}, "non-empty dict"),
    ({"a": "x"}, "finite number"),
    ({1: 1.0}, "strings"),
    ("a:b:c", "cannot import"),
])
def test_bad_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        resolve(spec)


def test_registry_is_importable_as_documented():
    assert callable(reward.register_reward) and callable(reward.resolve) and callable(reward.list_rewards)
