-- The database of Phục Vụ on the province's PostgreSQL (15 or newer), run once as the postgres superuser:
--   sudo -u postgres psql -f deploy/postgresql.sql
-- The bot connects as the system user `phucvu` over the local socket (peer authentication: no password to keep):
--   PHUCVU_DB=postgresql:///phucvu?host=/run/postgresql
-- From another host, give the role a password and use postgresql://phucvu:PASSWORD@HOST:5432/phucvu (with TLS).
-- The bot creates and upgrades its tables itself (`phucvu migrate`).
CREATE ROLE phucvu LOGIN;
CREATE DATABASE phucvu OWNER phucvu ENCODING 'UTF8' TEMPLATE template0;
-- Each process opens up to 10 connections: keep max_connections (100 by default) above 10 × the processes, plus
-- what pg_dump and the administrators need.
