"""The web server: routes, signature and envelope checks, limits, readiness, metrics."""
