"""The Telegram surface: read an update, call one service, render with the person's translator, reply."""

from __future__ import annotations

from telegram.ext import BaseHandler

from handlers import centres, digest, dossiers, errors, people, reports, roles
from handlers.errors import on_error


def all_handlers() -> dict[int, list[BaseHandler]]:  # type: ignore[type-arg]
    """Every handler by group, in routing order: the steps of a report being written first (a group of their
    own), then a text with a dossier code in it (the commonest message, and never a command or a button's
    label), commands and buttons, free text and the fallbacks last."""
    return {
        reports.NOTE_GROUP: reports.note_handlers(),
        reports.GROUP: reports.step_handlers(),
        0: [
            dossiers.code_handler(),
            *people.handlers(),
            *roles.handlers(),
            *reports.handlers(),
            *digest.handlers(),
            *dossiers.handlers(),
            *centres.handlers(),
            *errors.handlers(),
        ],
    }


__all__ = ["all_handlers", "on_error"]
