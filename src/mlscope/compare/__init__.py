"""Statistics for comparing two models evaluated on the same rows.

:mod:`mlscope.compare.paired` holds pure NumPy functions: DeLong's test for two correlated
ROC AUCs, McNemar's test for paired right/wrong outcomes, p-values and an interval from
paired bootstrap replicates of a difference, and the Benjamini–Hochberg adjustment for
many comparisons at once. Each test returns a plain dataclass that can be stored in
mlscope's JSON result. How each number is computed: ``docs/comparisons-stats.md``.
"""
