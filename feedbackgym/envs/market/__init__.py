"""Market family: a limit-order-book market with circuit breakers (the 6 May 2010 Flash Crash).

The simulation core (``book``, ``populations``, ``auction``, ``scenarios``, ``sim``, ``stylized``)
imports no Gymnasium; the regulator env and its breakers build on :mod:`.sim`.
"""
