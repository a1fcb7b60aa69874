// Our own gulpfile is a consumer of the public API, exactly as the README tells a team to write theirs.
import { createMigrationTasks } from './tasks';

module.exports = createMigrationTasks();
