"""Out-of-distribution motion forecasting: data, one shared backbone, ERM / invariance / causal-motion / GCRL
methods, training, evaluation and low-shot adaptation (see ``shared/specs/forecasting.md``)."""
