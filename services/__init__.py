"""Cocreate's services; each is a package of the same shape (see docs/adding-a-service.md)."""
