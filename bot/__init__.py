"""Phục Vụ: the application layer (config, services, composition root, CLI, console)."""
