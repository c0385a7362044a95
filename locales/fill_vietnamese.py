"""After `pybabel update`: the source strings are Vietnamese, so the vi catalog's translation is the msgid."""

from pathlib import Path

from babel.messages.pofile import read_po, write_po

PO = Path(__file__).resolve().parent / "vi" / "LC_MESSAGES" / "phucvu.po"

with PO.open("rb") as handle:
    catalog = read_po(handle, locale="vi")
for message in catalog:
    if isinstance(message.id, tuple):  # a plural: Vietnamese has one form, the singular
        if not any(message.string):
            message.string = (message.id[0],)
    elif message.id and not message.string:
        message.string = message.id
    message.flags.discard("fuzzy")
with PO.open("wb") as handle:
    write_po(handle, catalog, width=110, sort_output=True)
