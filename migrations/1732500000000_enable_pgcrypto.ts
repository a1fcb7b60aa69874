// Enables the pgcrypto extension (provides gen_random_uuid() for uuid primary keys).
import type { MigrationBuilder } from 'node-pg-migrate';

export const up = (pgm: MigrationBuilder): void => {
  pgm.createExtension('pgcrypto', { ifNotExists: true });
};

export const down = (pgm: MigrationBuilder): void => {
  pgm.dropExtension('pgcrypto', { ifExists: true });
};
