"""What the worker serves: Prometheus metrics, the JSON API, the wallboard and the health check.

Views get what they show (reports, a health check) and never reach into the pipeline.
"""
