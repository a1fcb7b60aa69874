// Creates the tags table and the content_tags join table (content <-> tags) with an index on tag_id.
import type { MigrationBuilder } from 'node-pg-migrate';

export const up = (pgm: MigrationBuilder): void => {
  pgm.createTable('tags', {
    id: {
      type: 'integer',
      primaryKey: true,
      sequenceGenerated: { precedence: 'ALWAYS' },
    },
    name: { type: 'text', notNull: true, unique: true },
  });
  pgm.createTable(
    'content_tags',
    {
      content_id: {
        type: 'uuid',
        notNull: true,
        references: 'content',
        onDelete: 'CASCADE',
      },
      tag_id: {
        type: 'integer',
        notNull: true,
        references: 'tags',
        onDelete: 'CASCADE',
      },
    },
    { constraints: { primaryKey: ['content_id', 'tag_id'] } },
  );
  pgm.createIndex('content_tags', 'tag_id');
};

export const down = (pgm: MigrationBuilder): void => {
  pgm.dropIndex('content_tags', 'tag_id');
  pgm.dropTable('content_tags');
  pgm.dropTable('tags');
};
