"""Thermostat: the API client, the integration record, jobs, and ingestion of results."""
