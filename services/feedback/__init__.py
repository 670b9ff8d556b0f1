"""Feedback: surveys and quick feedback from clients, staff replies, and the insights read models."""
SERVICE = "feedback"
