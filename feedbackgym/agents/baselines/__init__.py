"""Classical controllers, by name, for ``feedbackgym evaluate --policy NAME``.

Each env id declares its baselines in its family (:mod:`feedbackgym.family`): name -> import
string, constructor kwargs and a one-line description. Entries are imported on first use, so
listing baselines costs nothing and heavy baselines load only when asked for.
"""

from __future__ import annotations

from ...family import load, spec


def baseline_names(env_id: str) -> dict[str, str]:
    """Baselines available for ``env_id``: name -> description."""
    return {name: b.doc for name, b in spec(env_id).baselines.items()}


def make_baseline(env_id: str, name: str, **kwargs):
    """Instantiate baseline ``name`` for ``env_id``; unknown names raise ``ValueError``."""
    table = spec(env_id).baselines
    if name not in table:
        raise ValueError(f"unknown baseline {name!r} for {env_id}; available: {sorted(table)}")
    b = table[name]
    return load(b.target)(**{**b.kwargs, **kwargs})
