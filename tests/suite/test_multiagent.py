"""Registry-wide: every env id whose family declares a multi-agent view (``EnvSpec.multi_agent``,
a ``"module:factory"`` of a PettingZoo ``ParallelEnv``) passes PettingZoo's parallel API and seed
tests on its ``test_kwargs``. Skipped without the extra ``multiagent`` (PettingZoo)."""

import warnings

import pytest

pytest.importorskip("pettingzoo")

from pettingzoo.test import parallel_api_test, parallel_seed_test  # noqa: E402

from feedbackgym import family  # noqa: E402
from feedbackgym.registration import env_ids  # noqa: E402

MULTI = [i for i in env_ids() if family.spec(i).multi_agent]
#: the market's view with makers and an executor (the family's test_kwargs give a regulator only)
MARKET_FACTORY = "feedbackgym.envs.market.multiagent:parallel_env"
MARKET_TEST_KWARGS = {"market": {"length_s": 120, "seller_start_s": 30}, "stress_s": 60,
                      "agent_makers": 2, "executors": 1}


def _check_view(factory: str, kwargs: dict, cycles: int = 150) -> None:
    make = family.load(factory)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # the API test's made-up reset option
        parallel_api_test(make(**kwargs), num_cycles=cycles)
    parallel_seed_test(lambda: make(**kwargs), num_cycles=cycles)
    env = make(**kwargs)
    assert env.possible_agents, f"{factory}: a view needs at least one agent"
    for a in env.possible_agents:
        assert env.observation_space(a) is env.observation_space(a)
        assert env.action_space(a) is env.action_space(a)


@pytest.mark.parametrize("env_id", MULTI or [pytest.param(None, marks=pytest.mark.skip(
    reason="no family declares a multi-agent view yet"))])
def test_declared_multi_agent_view_passes_pettingzoo_tests(env_id):
    s = family.spec(env_id)
    _check_view(s.multi_agent, dict(s.test_kwargs))


def test_market_factory_meets_the_contract():
    """The market family's factory with every role present passes the same checks."""
    assert family.spec("feedbackgym/FlashCrashRegulator-v0").multi_agent == MARKET_FACTORY
    _check_view(MARKET_FACTORY, MARKET_TEST_KWARGS)
