import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { TaskError } from '../util/errors';
import { hasDownSection, ROLLBACKS_FOLDER } from './migration-folder';

type MigrationLoaderStrategy = import('node-pg-migrate/migrationLoader').MigrationLoaderStrategy;
type MigrationUnit = import('node-pg-migrate/migrationLoader').MigrationUnit;

/**
 * Where a `.sql` migration without a `-- Down Migration` section keeps its rollback: `down/<same file name>`, else
 * `<name>.down.sql` beside it; undefined when neither exists.
 */
export function rollbackFileFor(migrationPath: string): string | undefined {
  const dir = path.dirname(migrationPath);
  const file = path.basename(migrationPath);
  const candidates = [path.join(dir, ROLLBACKS_FOLDER, file), path.join(dir, `${path.basename(file, path.extname(file))}.down.sql`)];
  return candidates.find((candidate) => existsSync(candidate));
}

/**
 * The loader strategy the runner and the SQL renderer use for `.sql` files: node-pg-migrate's own reading of the
 * file (`-- Up Migration` / `-- Down Migration` sections), and for a file without a down section the SQL of its
 * rollback file (see {@link rollbackFileFor}) as its down. Other extensions keep node-pg-migrate's default loader.
 */
export async function sqlLoaderStrategies(): Promise<MigrationLoaderStrategy[]> {
  const { getActions } = await import('node-pg-migrate/sqlMigration');
  const loadOne = async (filePath: string): Promise<MigrationUnit> => {
    const actions = getActions(await readFile(filePath, 'utf8'));
    const rollback = actions.down === false ? rollbackFileFor(filePath) : undefined;
    if (!rollback) return { id: filePath, filePaths: [filePath], actions };
    const downSql = await readFile(rollback, 'utf8');
    return { id: filePath, filePaths: [filePath, rollback], actions: { ...actions, down: (pgm) => pgm.sql(downSql) } };
  };
  return [{ extensions: ['.sql'], loader: (filePaths) => Promise.all(filePaths.map(loadOne)) }];
}

/**
 * Refuses, before anything touches the database, to roll back a `.sql` migration that has no rollback: no down
 * section and no rollback file. Names the file and both ways to give it one.
 */
export function assertRollbacksExist(migrations: readonly { name: string; path: string }[], shownDir: string): void {
  // A missing file counts as having one: it is the runner's to report.
  const missing = migrations.filter(
    ({ path: file }) => path.extname(file).toLowerCase() === '.sql' && existsSync(file) && !hasDownSection(file) && !rollbackFileFor(file),
  );
  if (missing.length === 0) return;
  const files = missing.map(({ path: file }) => `${shownDir}/${path.basename(file)}`);
  const [first] = missing;
  const base = path.basename(first!.path);
  throw new TaskError(
    `${files.join(', ')} ${missing.length === 1 ? 'has' : 'have'} no rollback, so nothing was rolled back: no "-- Down Migration" section, ` +
      `and no ${shownDir}/${ROLLBACKS_FOLDER}/${base} or ${shownDir}/${first!.name}.down.sql`,
    {
      hint: `write the SQL that undoes it in ${shownDir}/${ROLLBACKS_FOLDER}/${base} (or after a "-- Down Migration" line in the file), then run the command again`,
    },
  );
}
