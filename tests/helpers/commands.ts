import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Stand-ins for system commands (a LibreOffice that hangs, a bwrap that cannot run, a docker
 * with no engine): shell scripts in a folder of their own, put first on this process's PATH,
 * which the renderer's children inherit. `restore` puts PATH back and removes them.
 */
export async function standInCommands(scripts: Record<string, string>) {
  const bin = await mkdtemp(path.join(tmpdir(), 'stand-in-commands-'));
  for (const [name, body] of Object.entries(scripts)) {
    await writeFile(path.join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  }
  const oldPath = process.env['PATH'];
  process.env['PATH'] = `${bin}:${oldPath}`;
  return {
    bin,
    restore: async () => {
      process.env['PATH'] = oldPath;
      await rm(bin, { recursive: true, force: true });
    },
  };
}

/** What Lambda lets a function do: no namespace can be made, so bwrap and unshare fail. */
export const NO_NAMESPACES = { bwrap: 'exit 1', unshare: 'exit 1' };
