"""Cluster resource prediction (Borg / Autopilot style): rightsizing and autoscaling envs over
requested-vs-used workload traces. See :mod:`feedbackgym.envs.cluster.workloads` for the data."""
