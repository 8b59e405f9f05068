"""Agents: classical baselines per domain, SB3 training, evaluation harness."""
