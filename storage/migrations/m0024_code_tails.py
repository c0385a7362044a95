"""A code typed without its agency part (`261204-0002` for `000.55.37.H37-261204-0002`, issue 16): the dossiers
whose keys end with that date and counter are found by this index (`DossiersRepo.codes_with_tail`)."""

SQL = """
CREATE INDEX dossiers_code_tail ON dossiers (substr(code_key, -10));
"""
