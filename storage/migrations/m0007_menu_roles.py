"""Which role's command menu Telegram holds for a person's chat (NULL: the public one), so that a menu can be taken
back from someone who no longer holds the role, even an admin removed from the settings."""

SQL = """
ALTER TABLE people ADD COLUMN menu_role TEXT;
"""
