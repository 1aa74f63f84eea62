"""Transitional ORM classes over the Core tables of core.models; callers move to the tables."""
