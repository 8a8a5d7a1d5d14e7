"""Planning a project before the model: feasibility from evidence and the portfolio.

:mod:`~mlscope.plan.feasibility` turns a learning curve and a label cost into the rows,
money and weeks each target needs; :mod:`~mlscope.plan.portfolio` scores and ranks
candidate projects by impact and feasibility. Rendering lives in the report layer.
"""
