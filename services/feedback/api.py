"""The feedback service's JSON API (its resources arrive with the feedback issue)."""
blueprints: list = []
