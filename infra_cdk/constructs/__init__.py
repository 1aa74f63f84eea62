"""Reusable constructs: the function factory, and one construct per feature as features appear."""
