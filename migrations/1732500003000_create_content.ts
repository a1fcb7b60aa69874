// Creates the content_type and visibility enums and the content table (with indexes and updated_at trigger).
import type { MigrationBuilder } from 'node-pg-migrate';

export const up = (pgm: MigrationBuilder): void => {
  pgm.createType('content_type', ['blog', 'video', 'podcast', 'presentation']);
  pgm.createType('visibility', ['public', 'private', 'draft']);
  pgm.createTable('content', {
    id: {
      type: 'uuid',
      primaryKey: true,
      default: pgm.func('gen_random_uuid()'),
    },
    user_id: {
      type: 'uuid',
      notNull: true,
      references: 'users',
      onDelete: 'CASCADE',
    },
    title: { type: 'text', notNull: true },
    url: { type: 'text', notNull: true },
    content_type: { type: 'content_type', notNull: true },
    visibility: { type: 'visibility', notNull: true, default: 'draft' },
    published_at: { type: 'timestamptz' },
    created_at: {
      type: 'timestamptz',
      notNull: true,
      default: pgm.func('now()'),
    },
    updated_at: {
      type: 'timestamptz',
      notNull: true,
      default: pgm.func('now()'),
    },
  });
  pgm.createIndex('content', 'user_id');
  pgm.createIndex('content', ['visibility', 'published_at']);
  pgm.createTrigger('content', 'content_set_updated_at', {
    when: 'BEFORE',
    operation: 'UPDATE',
    level: 'ROW',
    function: 'set_updated_at',
  });
};

export const down = (pgm: MigrationBuilder): void => {
  pgm.dropTrigger('content', 'content_set_updated_at');
  pgm.dropIndex('content', ['visibility', 'published_at']);
  pgm.dropIndex('content', 'user_id');
  pgm.dropTable('content');
  pgm.dropType('visibility');
  pgm.dropType('content_type');
};
