"""Property-based fuzzing of every family's loaders and every env's config fields (issue 10).

One harness for all families. Bad input must end in a ``ValueError`` that names its source (the
file, or the config field), never in another exception, and a value that is accepted must not
crash the simulator later.

Loaders are discovered per family: a family module (``feedbackgym.envs.<family>.family``) may
expose ``fuzz_targets()`` returning dicts with ``name``, ``files`` (file name -> valid example),
``load(folder)`` and optionally ``use(result, folder)`` (see ``feedbackgym.envs.abr.family``).
Families without the hook are covered by ``_FALLBACK`` below when their loader modules exist.
Config fields are found through the family declarations (``feedbackgym.family.config_class``), so a
new env id is fuzzed the moment it is registered.

Inputs: random bytes, random text of hostile tokens (NaN, +-inf, negatives, huge, empty, commas,
wrong column counts), random JSON, and valid examples with one token replaced. Hypothesis runs
derandomised (the same examples on every machine) and without its per-example deadline, so
nothing here depends on wall-clock time.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import feedbackgym  # noqa: E402,F401  (registers every family)
from feedbackgym import family  # noqa: E402

FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.filter_too_much, HealthCheck.data_too_large])

# ------------------------------------------------------------------------------- strategies

NASTY_NUMBERS = ["nan", "NaN", "inf", "-inf", "-1", "-0", "0", "1e308", "1e306", "-1e308", "1e-320", "5e-324",
                 "9" * 30, "-" + "9" * 30, "1.5", "3", "0x10", "1_000", ""]
NASTY_TOKENS = NASTY_NUMBERS + ["abc", ",", ";", "#", "null", "true", "[", "]", "{", "}", '"', "\x00", "\t", "é",
                                "1,2", "1;2", "1 2 3"]

token = st.one_of(st.sampled_from(NASTY_TOKENS),
                  st.floats(allow_nan=True, allow_infinity=True).map(repr),
                  st.integers(min_value=-(10 ** 40), max_value=10 ** 40).map(str))
line = st.lists(token, max_size=5).flatmap(
    lambda toks: st.sampled_from([" ", "\t", ",", ";", ", "]).map(lambda sep: sep.join(toks)))
text_file = st.lists(line, max_size=12).map(lambda ls: "\n".join(ls))
json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8)),
    lambda children: st.one_of(st.lists(children, max_size=5),
                               st.dictionaries(st.sampled_from(
                                   ["duration_ms", "bandwidth_kbps", "latency_ms", "bitrates_kbps", "chunk_s",
                                    "chunk_bytes", "chunks", "name", "x"]), children, max_size=5)),
    max_leaves=20)
json_file = json_value.map(lambda v: json.dumps(v, allow_nan=True))


@st.composite
def mutated(draw, example: str) -> str:
    """A valid example with a few of its tokens replaced by hostile ones (reaches deep checks)."""
    parts = example.replace(",", " , ").replace(":", " : ").replace("[", " [ ").replace("]", " ] ").split(" ")
    for _ in range(draw(st.integers(1, 3))):
        if not parts:
            break
        i = draw(st.integers(0, len(parts) - 1))
        parts[i] = draw(token)
    return " ".join(parts)


def content(example: str):
    """Hostile contents for a file whose valid form is ``example``."""
    return st.one_of(st.binary(max_size=200), text_file, json_file, mutated(example),
                     st.just(""), st.just(example * 3))


# ------------------------------------------------------------------------------ discovery


def _family_targets() -> list[dict]:
    targets = []
    for name in sorted(family.families()):
        try:
            mod = importlib.import_module(f"feedbackgym.envs.{name}.family")
        except ImportError:
            mod = None
        hook = getattr(mod, "fuzz_targets", None)
        if hook is not None:
            targets += hook()
        else:
            targets += _FALLBACK.get(name, lambda: [])()
    return targets


def _cluster_fallback() -> list[dict]:
    """The cluster workload loaders (feedbackgym/envs/cluster/workloads.py), while that family has no hook."""
    try:
        w = importlib.import_module("feedbackgym.envs.cluster.workloads")
    except ImportError:
        return []
    header = ";\t".join(["Timestamp [ms]", "CPU cores", "CPU capacity provisioned [MHZ]", "CPU usage [MHZ]",
                         "Memory capacity provisioned [KB]", "Memory usage [KB]"])
    rows = ("1376314846;\t4;\t11703.99;\t10.4;\t67108864;\t6129274.4\n"
            "1376315146;\t4;\t11703.99;\t20.8;\t67108864;\t1000\n")
    out = []
    if hasattr(w, "load_bitbrains_file"):
        out.append(dict(name="cluster bitbrains vm file", files={"1.csv": header + "\n" + rows},
                        load=lambda d: w.load_bitbrains_file(d / "1.csv")))
    if hasattr(w, "load_google2019"):
        out.append(dict(name="cluster google2019 usage", files={"usage.json": "{}\n"},
                        load=lambda d: w.load_google2019(d / "usage.json")))
    if hasattr(w, "load_alibaba2018"):
        out.append(dict(name="cluster alibaba2018", files={"usage.csv": "", "meta.csv": ""},
                        load=lambda d: w.load_alibaba2018(d / "usage.csv", d / "meta.csv")))
    return out


_FALLBACK = {"cluster": _cluster_fallback}
TARGETS = _family_targets()
#: failures found here in files this suite's authors do not own, reported to their owners; the
#: tests stay (non-strict xfail) so that they pass the moment the loader is fixed
KNOWN_ISSUES: dict[str, str] = {}


def _param(name: str, obj):
    marks = [pytest.mark.xfail(reason=KNOWN_ISSUES[name], strict=False)] if name in KNOWN_ISSUES else []
    return pytest.param(obj, id=name, marks=marks)


# ---------------------------------------------------------------------------------- loaders


def _check_error(e: BaseException, source: str, what: str) -> None:
    assert type(e) is ValueError or (isinstance(e, ValueError) and not isinstance(e, UnicodeError)), (
        f"{what}: {type(e).__name__} instead of a ValueError: {e}")
    assert source in str(e), f"{what}: the error does not name {source!r}: {e}"


@pytest.mark.parametrize("target", [_param(t["name"], t) for t in TARGETS])
@FUZZ
@given(data=st.data())
def test_loader_rejects_bad_files_with_a_value_error_naming_the_file(target, data):
    fname = data.draw(st.sampled_from(sorted(target["files"])), label="file")
    raw = data.draw(content(target["files"][fname]), label="content")
    folder = Path(tempfile.mkdtemp(prefix="fuzz_"))
    try:
        for name, example in target["files"].items():
            (folder / name).write_text(example)
        (folder / fname).write_bytes(raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                result = target["load"](folder)
                if target.get("use") is not None:
                    target["use"](result, folder)
            except Exception as e:  # noqa: BLE001  (the property is about which exception)
                _check_error(e, str(folder), f"{target['name']} on {raw[:60]!r}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_every_family_with_loaders_is_fuzzed():
    names = {t["name"].split()[0] for t in TARGETS}
    assert "abr" in names
    if importlib.util.find_spec("feedbackgym.envs.cluster.workloads") is not None and "cluster" in family.families():
        assert "cluster" in names


# ---------------------------------------------------------------------------- config fields

ENV_IDS = family.env_ids()

config_value = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["", "a:b", "this:s", "os:system", "/no/such/path", "train", "synthetic", "qoe_lin"]),
    st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 10 ** 12)), max_size=4),
    st.lists(st.lists(st.integers(-3, 10 ** 12), max_size=3), max_size=3),
    st.dictionaries(st.text(max_size=6), st.one_of(st.floats(allow_nan=True), st.integers(), st.text(max_size=3)),
                    max_size=3),
)


def _fields(env_id):
    return [f.name for f in dataclasses.fields(family.config_class(env_id))]


CASES = [(env_id, f) for env_id in ENV_IDS for f in _fields(env_id)]


@pytest.mark.parametrize("env_id,field", CASES, ids=[f"{e.split('/')[-1]}.{f}" for e, f in CASES])
@settings(FUZZ, max_examples=25)
@given(value=config_value)
def test_config_field_rejects_bad_values_with_a_value_error_naming_the_field(env_id, field, value):
    import gymnasium as gym

    cls = family.config_class(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cls(**{field: value})
        except Exception as e:  # noqa: BLE001
            _check_error(e, field, f"{env_id} {field}={value!r}")
            return
        try:  # accepted by the field check: building the env and one step must not crash either
            env = gym.make(env_id, **{field: value}).unwrapped
            try:
                env.reset(seed=0)
                env.step(env.action_space.sample())
            finally:
                env.close()
        except Exception as e:  # noqa: BLE001
            assert isinstance(e, ValueError) and not isinstance(e, UnicodeError), (
                f"{env_id} {field}={value!r}: {type(e).__name__}: {e}")


@pytest.mark.parametrize("env_id", [_param(e, e) for e in ENV_IDS])
@settings(FUZZ, max_examples=30)
@given(options=st.one_of(st.lists(st.integers(), max_size=3), st.text(max_size=5), st.integers(),
                         st.dictionaries(st.sampled_from(["config", "trace_index", "x"]), config_value, max_size=2)))
def test_reset_options_reject_bad_values_with_a_value_error(env_id, options):
    import gymnasium as gym

    env = gym.make(env_id).unwrapped
    try:
        env.reset(seed=0, options=options)
    except Exception as e:  # noqa: BLE001
        assert isinstance(e, ValueError) and not isinstance(e, UnicodeError), (
            f"{env_id} reset(options={options!r}): {type(e).__name__}: {e}")
    finally:
        env.close()


# --------------------------------------------------------------------------- vector twins

TWIN_IDS = [e for e in ENV_IDS if family.spec(e).vector_entry_point is not None]
#: twins' failures found here, in files this suite's authors do not own (non-strict, as above)
KNOWN_TWIN_ISSUES: dict[str, str] = {}
KNOWN_RESET_ISSUES: dict[str, str] = {}


def _known(env_id, issues: dict):
    marks = [pytest.mark.xfail(reason=issues[env_id], strict=False)] if env_id in issues else []
    return pytest.param(env_id, id=env_id, marks=marks)


def _make(env_id, vector: bool):
    import gymnasium as gym

    kw = dict(family.spec(env_id).test_kwargs)
    if vector:
        return gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point", **kw)
    return gym.make(env_id, **kw).unwrapped


@pytest.mark.parametrize("env_id", [_known(e, KNOWN_TWIN_ISSUES) for e in TWIN_IDS])
@settings(FUZZ, max_examples=30)
@given(options=st.one_of(st.lists(st.integers(), max_size=3), st.text(max_size=5), st.integers(),
                         st.dictionaries(st.sampled_from(["config", "reset_mask", "x"]), config_value, max_size=2)))
def test_vector_reset_options_reject_bad_values_with_a_value_error(env_id, options):
    venv = _make(env_id, vector=True)
    try:
        venv.reset(seed=0, options=options)
    except Exception as e:  # noqa: BLE001
        assert isinstance(e, ValueError) and not isinstance(e, UnicodeError), (
            f"{env_id} twin reset(options={options!r}): {type(e).__name__}: {e}")
    finally:
        venv.close()


def _run(env, vector: bool, rng_seed: int, steps: int = 3):
    """A few steps with fixed random actions; what they returned, for comparison."""
    from feedbackgym.bench import draw_actions

    rng = np.random.default_rng(rng_seed)
    space = env.single_action_space if vector else env.action_space
    out = []
    for _ in range(steps):
        a = draw_actions(space, (env.num_envs,), rng) if vector else draw_actions(space, (), rng)
        obs, reward, term, trunc, _ = env.step(a)
        out.append((np.asarray(obs).copy(), np.asarray(reward).copy(), np.asarray(term | trunc)))
    return out


def _failing_resets(env_id):
    """Reset options that fail after a valid part that, if applied, would change the env: a new
    reward (so the config would differ) followed by an unknown option."""
    first = next(iter(family.spec(env_id).reward_components))
    return [{"config": {"reward": {first: 1.0}}, "x": 1}, {"config": {}, "x": 1},
            {"config": {"reward": {first: 1.0}}, "trace_index": -1}]


@pytest.mark.parametrize("vector", [False, True], ids=["single", "twin"])
@pytest.mark.parametrize("env_id", [_known(e, KNOWN_RESET_ISSUES) for e in ENV_IDS])
def test_failed_reset_changes_nothing(env_id, vector):
    """A reset that raises leaves the env as it was: config, generators and the episode in
    progress (issue 10). Checked against a twin env that never saw the failed reset."""
    if vector and env_id not in TWIN_IDS:
        pytest.skip("no vector twin")
    env, control = _make(env_id, vector), _make(env_id, vector)
    try:
        for e in (env, control):
            e.reset(seed=0)
        for a, b in zip(_run(env, vector, 1), _run(control, vector, 1)):
            assert all(np.array_equal(x, y) for x, y in zip(a, b))
        for options in _failing_resets(env_id):
            if vector and "trace_index" in options:
                continue
            with pytest.raises(ValueError):
                env.reset(seed=123, options=options)
            assert env.get_config() == control.get_config(), f"{options!r} changed the config"
        for a, b in zip(_run(env, vector, 2), _run(control, vector, 2)):
            assert all(np.array_equal(x, y) for x, y in zip(a, b)), "a failed reset changed the episode"
    finally:
        env.close()
        control.close()
