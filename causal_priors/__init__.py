"""causal-priors: reinforcement learning and motion forecasting with causal priors.

This package holds what every half of the project shares: the config loader, the run-directory layout,
seeding, the logger and the command line. The methods live in ``agents/``, ``causal/``, ``envs/`` and
``forecasting/``.
"""

__version__ = "0.1.0"
