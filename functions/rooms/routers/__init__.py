"""The rooms function's routes, one Powertools Router per use case, included by rooms.handler."""
