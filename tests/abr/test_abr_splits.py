"""Named trace splits: every test split shares no content with the training splits it is for
(issue 10), and the public splits' known overlap is pinned so that it stays documented."""

import hashlib

import pytest

from feedbackgym.envs.abr.overlap import overlapping, windows
from feedbackgym.envs.abr.traces import (
    HOLDOUT_ROUTES, NAMED_SPLITS, TEST_SPLIT_FOR, TRAINING_SPLITS, load_traces, route_of, split_files,
)

#: (test split, training split) -> test traces sharing content; the public splits overlap (SOURCE.md)
KNOWN_OVERLAP = {("fcc_test", t): 171 for t in TRAINING_SPLITS}
KNOWN_OVERLAP.update({("fcc_test_290", t): 171 for t in TRAINING_SPLITS})
KNOWN_OVERLAP[("hsdpa_holdout", "train_fit")] = 1
#: fcc_test's trace_942154_http---www.ebay.com_0 is byte for byte train_127's trace_942154_http---www.ebay.com
KNOWN_IDENTICAL = {k: 1 for k in KNOWN_OVERLAP if k[0].startswith("fcc_test")}


@pytest.fixture(scope="module")
def traces():
    return {s: load_traces(s) for s in NAMED_SPLITS}


def test_every_named_split_is_a_training_or_a_test_split():
    assert set(NAMED_SPLITS) == set(TRAINING_SPLITS) | set(TEST_SPLIT_FOR)
    assert all(set(v) <= set(TRAINING_SPLITS) for v in TEST_SPLIT_FOR.values())


@pytest.mark.parametrize("test,train", [(a, b) for a, bs in TEST_SPLIT_FOR.items() for b in bs])
def test_test_splits_share_no_content_with_their_training_splits(traces, test, train):
    shared = overlapping(traces[test], traces[train])
    assert len(shared) == KNOWN_OVERLAP.get((test, train), 0), shared[:5]
    # no file is in both either (by content: equal bytes)
    digests = {hashlib.sha256(f.read_bytes()).hexdigest() for f in split_files(train)}
    n_same = sum(hashlib.sha256(f.read_bytes()).hexdigest() in digests for f in split_files(test))
    assert n_same == KNOWN_IDENTICAL.get((test, train), 0)


def test_overlap_is_found_by_content_not_by_name(traces):
    fcc = {t.name: t for t in traces["fcc_test"]}
    train = {t.name: t for t in traces["train"]}
    window = fcc["trace_10322_http---edition.cnn.com_320"]  # rows 64.. of the training recording
    assert not windows(window).isdisjoint(windows(train["trace_10322_http---edition.cnn.com"]))
    assert overlapping([window], [train["trace_10322_http---edition.cnn.com"]]) == [window.name]


def test_clean_and_route_splits_sizes():
    assert len(split_files("fcc_test_clean")) == 119
    hold, fit = split_files("hsdpa_route_holdout"), split_files("train_route_fit")
    assert len(hold) == 17 and len(fit) == 110
    assert {route_of(f.name) for f in hold} == set(HOLDOUT_ROUTES)
    assert not {route_of(f.name) for f in hold} & {route_of(f.name) for f in fit}
    assert {f.name for f in hold} | {f.name for f in fit} == {f.name for f in split_files("train")}
