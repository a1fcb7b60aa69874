// Creates the set_updated_at() trigger function that stamps NEW.updated_at = now() on UPDATE.
import type { MigrationBuilder } from 'node-pg-migrate';

export const up = (pgm: MigrationBuilder): void => {
  pgm.createFunction(
    'set_updated_at',
    [],
    { returns: 'trigger', language: 'plpgsql' },
    `
BEGIN
  NEW.updated_at = now();
  RETURN NEW;
END;
`,
  );
};

export const down = (pgm: MigrationBuilder): void => {
  pgm.dropFunction('set_updated_at', []);
};
