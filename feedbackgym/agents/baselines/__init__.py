"""Classical controllers of each domain, by name, for ``feedbackgym evaluate --policy NAME``.

Entries are ``"module:attribute"`` strings imported on first use, so listing baselines costs
nothing and a domain's heavy baselines load only when asked for.
"""

from __future__ import annotations

import importlib

from ...registration import domain

_ABR = "feedbackgym.agents.baselines.abr"
#: domain -> name -> ("module:class", constructor kwargs, one-line description)
BASELINES: dict[str, dict[str, tuple[str, dict, str]]] = {
    "abr": {
        "bb": (f"{_ABR}:BufferBased", {}, "buffer-based (BBA): reservoir 5 s, cushion 10 s"),
        "rb": (f"{_ABR}:RateBased", {}, "rate-based: highest level <= harmonic mean of last 5 throughputs"),
        "bola": (f"{_ABR}:Bola", {}, "BOLA-BASIC (Lyapunov, utility ln(S/S_min), gamma_p = 5)"),
        "robust_mpc": (f"{_ABR}:RobustMpc", {}, "robustMPC, horizon 5, clean (sizes of the chunk chosen, per-video errors)"),
        "robust_mpc_pensieve": (f"{_ABR}:RobustMpc", {"pensieve_bugs": True},
                                "robustMPC exactly as Pensieve's test/mpc.py, both bugs kept"),
        "lowest": (f"{_ABR}:ConstantLevel", {"level": 0}, "always the lowest level (sanity floor)"),
        "optimal": (f"{_ABR}_optimal:OfflineOptimal", {}, "offline optimum: dynamic program over the known trace"),
    },
}


def baseline_names(env_id: str) -> dict[str, str]:
    """Baselines available for ``env_id``: name -> description."""
    return {name: doc for name, (_, _, doc) in BASELINES.get(domain(env_id), {}).items()}


def make_baseline(env_id: str, name: str, **kwargs):
    """Instantiate baseline ``name`` for ``env_id``; unknown names raise ``ValueError``."""
    table = BASELINES.get(domain(env_id), {})
    if name not in table:
        raise ValueError(f"unknown baseline {name!r} for {env_id}; available: {sorted(table)}")
    target, defaults, _ = table[name]
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)(**{**defaults, **kwargs})
