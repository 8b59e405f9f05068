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


@pytest.fixture
def trusted(monkeypatch):
    """Trust the test reward module for one test (process list and env variable both restored)."""
    monkeypatch.delenv(reward.TRUST_ENV, raising=False)
    reward.trust_reward_modules("tests.abr.rewards_for_tests")
    yield
    reward.untrust_reward_modules("tests.abr.rewards_for_tests")


def test_import_string_resolves_functions_and_dicts(trusted):
    fn = resolve("tests.abr.rewards_for_tests:bitrate_minus_10_rebuffer")
    assert fn({"bitrate_mbps": 1.0, "rebuffer_s": 0.1}) == pytest.approx(0.0)
    assert resolve("tests.abr.rewards_for_tests:BITRATE_ONLY").as_dict() == {"bitrate_mbps": 1.0}
    with pytest.raises(ValueError, match="has no public attribute"):
        resolve("tests.abr.rewards_for_tests:nope")


def test_import_string_needs_explicit_trust(monkeypatch, capsys):
    """A config naming a module must not import it: {"reward": "this:s"} printed the Zen of Python."""
    import sys

    monkeypatch.delenv(reward.TRUST_ENV, raising=False)
    monkeypatch.delitem(sys.modules, "this", raising=False)
    for spec in ("this:s", "os:system", "tests.abr.rewards_for_tests:bitrate_minus_10_rebuffer"):
        with pytest.raises(ValueError, match="would run its code.*trust_reward_modules"):
            resolve(spec)
    assert "this" not in sys.modules and capsys.readouterr().out == ""
    # the environment variable is the opt-in that subprocess workers inherit
    monkeypatch.setenv(reward.TRUST_ENV, "tests.abr")
    assert resolve("tests.abr.rewards_for_tests:bitrate_minus_10_rebuffer")({"bitrate_mbps": 2.0,
                                                                            "rebuffer_s": 0.0}) == 2.0
    assert "tests.abr" in reward.trusted_reward_modules()


@pytest.mark.parametrize("target,match", [
    ("dumps", "defined in module 'json'"),          # re-exported from another module
    ("system", "expected a function"),               # os.system, a builtin
    ("NOT_A_REWARD", "expected a function"),          # a string (like this:s)
    ("TwoArgs", "expected a function"),                # a class
    ("two_args", "takes one argument"),
    ("_private", "no public attribute"),
])
def test_import_string_target_must_be_a_reward(trusted, target, match):
    with pytest.raises(ValueError, match=match):
        resolve(f"tests.abr.rewards_for_tests:{target}")


def test_trust_rejects_non_module_names():
    with pytest.raises(ValueError, match="dotted module names"):
        reward.trust_reward_modules("os; rm -rf /")


@pytest.mark.parametrize("spec,match", [
    (3, "must be a name"),
    ("", "unknown reward"),
    ({}, "non-empty dict"),
    ({"a": "x"}, "finite number"),
    ({1: 1.0}, "strings"),
    ("a:b:c", "dotted Python names"),
])
def test_bad_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        resolve(spec)


def test_registry_is_importable_as_documented():
    assert callable(reward.register_reward) and callable(reward.resolve) and callable(reward.list_rewards)
