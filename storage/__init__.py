"""All SQL lives here: the connection, the migrations and one repository module per feature."""
