"""Dagster wiring: the one ``Definitions``, resources, jobs, schedules, sensors and checks."""
