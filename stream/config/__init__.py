"""Configuration: the ``KPI_*`` environment, the per-queue YAML file, the Kafka connection they describe.

The only reader of the environment; imports only the pure KPI layer.
"""
