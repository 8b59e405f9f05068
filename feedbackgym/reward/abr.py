"""QoE presets for adaptive bitrate streaming (Pensieve, Mao et al. SIGCOMM 2017, Table 1).

Per chunk ``n``: ``QoE_n = q(R_n) - mu * rebuffer_n - |q(R_n) - q(R_{n-1})|``, with
``q(R) = R`` in Mbps (QoE_lin, mu = 4.3), ``ln(R / R_min)`` (QoE_log, mu = 2.66) or the HD score
table ``[1, 2, 3, 12, 15, 20]`` (QoE_hd, mu = 8). The ABR env computes each ``q`` and switch
term as its own component, so every preset is a weights dict and a user can reweigh any of them.
Startup delay (default mode only) is weighed like rebuffering, as Pensieve counts the first
chunk's download as a stall.
"""

from .registry import register_reward

ABR_COMPONENTS = (
    "bitrate_mbps",   # R_n, Mbps
    "rebuffer_s",     # stall while downloading chunk n, s (chunk 0 in default mode: see startup_s)
    "switch_mbps",    # |R_n - R_{n-1}|, Mbps
    "log_quality",    # ln(R_n / R_min)
    "log_switch",     # |ln R_n - ln R_{n-1}|
    "hd_quality",     # HD score of level n (needs hd_scores for non-6-level ladders)
    "hd_switch",      # |hd_n - hd_{n-1}|
    "startup_s",      # download time of the first chunk before playback starts, s (default mode)
)

ABR_PRESETS = {
    "qoe_lin": ({"bitrate_mbps": 1.0, "rebuffer_s": -4.3, "switch_mbps": -1.0, "startup_s": -4.3},
                "Pensieve QoE_lin: bitrate Mbps - 4.3 x rebuffer s - |switch| Mbps"),
    "qoe_log": ({"log_quality": 1.0, "rebuffer_s": -2.66, "log_switch": -1.0, "startup_s": -2.66},
                "Pensieve QoE_log: ln(R/R_min) - 2.66 x rebuffer s - |switch in ln R|"),
    "qoe_hd": ({"hd_quality": 1.0, "rebuffer_s": -8.0, "hd_switch": -1.0, "startup_s": -8.0},
               "Pensieve QoE_hd: HD score [1,2,3,12,15,20] - 8 x rebuffer s - |switch in score|"),
}

for _name, (_weights, _doc) in ABR_PRESETS.items():
    register_reward(_name, _weights, domain="abr", description=_doc, overwrite=True)
