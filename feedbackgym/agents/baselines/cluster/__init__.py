"""Baselines of the cluster family: rightsizing rules (:mod:`.rightsizing`: static, VPA, Autopilot
moving window and ML, forecast, oracle) and autoscaling rules (:mod:`.autoscaling`)."""
