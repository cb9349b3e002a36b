"""Stitch Connect API client core: no Airflow imports."""
