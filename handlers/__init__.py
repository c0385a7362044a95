"""The Telegram surface: read an update, call one service, render with the person's translator, reply."""

from __future__ import annotations

from telegram.ext import BaseHandler

from handlers import centres, dossiers, errors, people, roles
from handlers.errors import on_error


def all_handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    """Every handler in routing order: commands and buttons first, free text and the fallbacks last."""
    return [*people.handlers(), *roles.handlers(), *dossiers.handlers(), *centres.handlers(), *errors.handlers()]


__all__ = ["all_handlers", "on_error"]
