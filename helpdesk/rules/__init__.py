"""Triggers and automation rules: stored as data, run by the engine, shown to admins."""
