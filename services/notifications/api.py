"""The notifications service's JSON API (its resources arrive with the notifications issue)."""
blueprints: list = []
