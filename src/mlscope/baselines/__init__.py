"""Baselines: reference points a model is compared with (trivial, learned, human)."""
