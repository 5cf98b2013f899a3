"""Agents on stable-baselines3: SAC and its causal variants (ACE, CIP) as flags on one algorithm."""
