"""Helpers for Tollgate's integration tests: a private PostgreSQL, the real
tollgate binary, and small HTTP utilities. Nothing here is imported by the
code under test."""
