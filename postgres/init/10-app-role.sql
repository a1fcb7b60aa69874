-- Creates the application role and makes it the owner of the application database, as the guide's Docker
-- container did. Runs as superuser, connected to the application database, once per server start. The caller
-- supplies two session settings: pgmt.app_user and pgmt.app_password (the tasks set them; in Docker,
-- postgres/docker-init.sh does). Idempotent: running it again only refreshes the password.
DO $$
DECLARE
  app_user text := current_setting('pgmt.app_user');
  app_password text := current_setting('pgmt.app_password');
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = app_user) THEN
    EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', app_user, app_password);
  ELSE
    EXECUTE format('ALTER ROLE %I LOGIN PASSWORD %L', app_user, app_password);
  END IF;
  EXECUTE format('ALTER DATABASE %I OWNER TO %I', current_database(), app_user);
  EXECUTE format('GRANT ALL ON SCHEMA public TO %I', app_user);
END
$$;
