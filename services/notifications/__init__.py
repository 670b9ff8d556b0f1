"""Notifications: in-app inbox, e-mail and webhooks, per each person's preferences."""
SERVICE = "notifications"
