"""Streaming KPI processor for contact centres."""
