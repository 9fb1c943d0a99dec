"""The runtime: settings, database, secrets, logging, the scheduler, wiring."""
