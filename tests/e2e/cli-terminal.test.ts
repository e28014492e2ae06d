import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { API, binaryBytes } from '../helpers/api';
import { MiB } from '../helpers/chunks';
import {
  type CountingProxy,
  proxyEnvironment,
  startCountingProxy,
} from '../helpers/counting-proxy';
import { newCompanyId, tokenFor } from '../helpers/principals';

/**
 * The CLI on a real terminal: `npx serverless-files upload` in a tmux pane (a server of this
 * test's own), whose screen is read while two files upload. The bars must draw in place, with
 * bytes, rate and ETA, and end at 100% with "done".
 */

const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');
const socket = `serverless-files-cli-${process.pid}`;
const tmux = (...args: string[]) => run('tmux', ['-L', socket, ...args]);

let dir: string;
let proxy: CountingProxy;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cli-terminal-'));
  proxy = await startCountingProxy(API());
});

afterAll(async () => {
  await tmux('kill-server').catch(() => undefined); // this test's server only (-L)
  await proxy.close();
  await rm(dir, { recursive: true, force: true });
});

test('a progress bar per file renders on a terminal, with rate and ETA, and ends at 100%', async () => {
  const company = newCompanyId();
  const token = await tokenFor({ company, user: 'terminal-user' });
  await writeFile(path.join(dir, 'first.bin'), binaryBytes(40 * MiB, 1));
  await writeFile(path.join(dir, 'second.bin'), binaryBytes(24 * MiB, 2));
  proxy.pace(16 * MiB); // about 4 s for both: several screens to read
  const environment = {
    PATH: process.env['PATH'] ?? '',
    SERVERLESS_FILES_URL: API(),
    SERVERLESS_FILES_TOKEN: token,
    SERVERLESS_FILES_COMPANY: company,
    SERVERLESS_FILES_STATE_DIR: path.join(dir, 'state'),
    ...proxyEnvironment(proxy),
  };
  const script = path.join(dir, 'session.sh');
  await writeFile(
    script,
    [
      ...Object.entries(environment).map(([name, value]) => `export ${name}='${value}'`),
      `cd '${root}'`,
      `npx serverless-files upload '${dir}/first.bin' '${dir}/second.bin' --concurrency 2`,
      'echo "exit status $?"',
      'sleep 120', // keeps the pane (and its screen) until the test kills the server
    ].join('\n'),
  );
  await tmux('new-session', '-d', '-x', '120', '-y', '20', '-s', 'cli', `bash '${script}'`);

  const screens: string[] = [];
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const { stdout } = await tmux('capture-pane', '-p', '-t', 'cli');
    screens.push(stdout);
    if (stdout.includes('exit status')) break;
    await sleep(150);
  }
  const last = screens.at(-1) ?? '';
  expect(last).toContain('exit status 0');

  const bar = (name: string) =>
    new RegExp(
      `^${name} +\\[[█░]{30}\\] (\\d+)% \\| [\\d.]+ MiB/[\\d.]+ MiB \\| [\\d.]+ [KM]iB/s \\| ETA (\\d+s|--)$`,
      'm',
    );
  // While it runs: both bars at once, part-way, each with a rate and an ETA.
  const midway = screens.find((screen) => {
    const first = screen.match(bar('first\\.bin'));
    return (
      first && Number(first[1]) > 0 && Number(first[1]) < 100 && bar('second\\.bin').test(screen)
    );
  });
  expect(midway).toBeDefined();
  // Drawn in place: one line per file, never a scroll of bars.
  expect(midway!.match(/first\.bin +\[/g)).toHaveLength(1);
  // At the end, both full, "done", and the results below them.
  expect(last).toMatch(/^first\.bin +\[█{30}\] 100% \| 40\.0 MiB\/40\.0 MiB \| done$/m);
  expect(last).toMatch(/^second\.bin +\[█{30}\] 100% \| 24\.0 MiB\/24\.0 MiB \| done$/m);
  expect(last).toMatch(/^[0-9a-f-]{36} {2}first\.bin {2}40\.0 MiB$/m);
  console.log(`CLI in tmux: ${screens.length} screens read; one while running:\n${midway}`);
});
