"""Diagnosis: what holds the model back, and what to try next."""
