"""Everything Dagster loads, one folder per stage (``load_from_defs_folder`` imports each module
and collects its assets, checks, jobs, schedules, sensors and resources)."""
