"""The assets function's routes, one Powertools Router per use case, included by assets.handler."""
