"""Pure KPI logic: contacts, tickets, customers, agents, windows, aggregates, targets, alerts, reports.

Imports no Faust, Kafka, Prometheus or configuration (tests/test_layers.py).
"""
