"""Fixtures for the platform tests; the fakes themselves live in ``platform_fakes`` (a module
with a unique name, so importing it never picks up another folder's ``conftest``)."""

from platform_fakes import any_backend, http_backend

__all__ = ["any_backend", "http_backend"]
