import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** Directories made by `tempDir` in this test file; jest.config's setup removes them after its last test. */
const made: string[] = [];

/** A new directory under the system's temporary directory, removed after the test file's last test. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}
