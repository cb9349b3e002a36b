"""Connector catalog and property validators: no Airflow imports."""
