"""Tests of the Thermostat emulator (thermostat_emulator/)."""
