"""Bridges between mlscope and the tools around it; each is an optional extra.

``mlscope.integrations.mlflow`` (with its rooms ``mlflow_store``, ``mlflow_files`` and
``mlflow_tags``) reads candidate runs out of an MLflow experiment into a
charter's ``data.predictions`` and writes the decision back as run tags and a registered
model alias (``pip install "mlscope[mlflow]"``). Nothing here is imported by
``import mlscope``; each module imports its tool only when one of its functions runs.
"""
