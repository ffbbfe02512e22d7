// Run by tap once before the test files (package.json "tap.before").
// prtip started as root drops to nobody before it probes (pipelines/privilege.ts), and tap's
// process-info hook in every child process writes its record into .tap/processinfo when that
// process exits — then as nobody. A sticky, world-writable directory (as /tmp) lets it.
import fs from 'node:fs';

const dir = '.tap/processinfo';
fs.mkdirSync(dir, { recursive: true });
fs.chmodSync(dir, 0o1777);
