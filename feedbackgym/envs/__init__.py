"""One subpackage per env family; each keeps its simulation core free of Gymnasium.

:data:`FAMILIES` lists the families the suite ships ("module:attribute" of each
:class:`feedbackgym.family.Family`); :mod:`feedbackgym.registration` registers them at import.
"""

FAMILIES = (
    "feedbackgym.envs.abr.family:FAMILY",
    "feedbackgym.envs.market.family:FAMILY",
    "feedbackgym.envs.market.maker_family:FAMILY",
    "feedbackgym.envs.market.execution_family:FAMILY",
    "feedbackgym.envs.cluster.family:FAMILY",
)
