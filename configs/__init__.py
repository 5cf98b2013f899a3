"""YAML presets (``agent/``, ``env/``, ``experiment/``, ``model/``, ``data/``) read by ``causal_priors.config``."""

from pathlib import Path

CONFIG_ROOT = Path(__file__).resolve().parent
