import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { API, binaryBytes, call, sha256 } from '../helpers/api';
import { MiB } from '../helpers/chunks';
import { runCli, startCli } from '../helpers/cli';
import {
  type CountingProxy,
  proxyEnvironment,
  startCountingProxy,
} from '../helpers/counting-proxy';
import { image } from '../helpers/media';
import { bearer, newCompanyId, tokenFor } from '../helpers/principals';

/**
 * The CLI as a person runs it: `npx serverless-files …` processes against the running stack,
 * interrupted with Ctrl-C (SIGINT to the process group) and run again. Every request goes
 * through a counting proxy, so the bytes a resumed run sends are measured on the wire.
 */

const company = newCompanyId();
let token: string;
let dir: string;
let stateDir: string;
let proxy: CountingProxy;
let env: Record<string, string>;

const HUNDRED = 100 * MiB;
let hundred: Buffer;
let hundredId: string;

beforeAll(async () => {
  token = await tokenFor({ company, user: 'cli-user' });
  dir = await mkdtemp(path.join(tmpdir(), 'cli-e2e-'));
  stateDir = path.join(dir, 'state');
  proxy = await startCountingProxy(API());
  env = {
    SERVERLESS_FILES_URL: API(),
    SERVERLESS_FILES_TOKEN: token,
    SERVERLESS_FILES_COMPANY: company,
    SERVERLESS_FILES_STATE_DIR: stateDir,
    SERVERLESS_FILES_PROGRESS_MS: '100',
    ...proxyEnvironment(proxy),
  };
  hundred = binaryBytes(HUNDRED, 7);
  await writeFile(path.join(dir, 'hundred.bin'), hundred);
});

afterAll(async () => {
  await proxy.close();
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => proxy.pace(Infinity));

test('a 100 MiB upload interrupted half-way resumes, sending only the parts S3 lacks', async () => {
  proxy.pace(30 * MiB); // about 3.5 s for the whole file: half-way is a moment to catch
  const first = startCli(['upload', path.join(dir, 'hundred.bin')], env);
  await first.waitFor(/upload hundred\.bin: [4-6]\d% /);
  first.interrupt();
  const interrupted = await first.done;
  expect(interrupted.code).toBe(130);
  expect(interrupted.stderr).toContain('Interrupted: run the same command again to resume.');
  expect(proxy.counts().toS3).toBeLessThan(HUNDRED);
  // What the ended process had handed to the network still lands (as it would on a real one).
  await proxy.idle();

  // The state file names the upload; S3 is asked (through the API, as a client) what it holds.
  const [stateFile, ...others] = await readdir(stateDir);
  expect(others).toEqual([]);
  const state = JSON.parse(await readFile(path.join(stateDir, stateFile!), 'utf8')) as {
    key: string;
    upload_id: string;
    part_size: number;
  };
  expect(state.part_size).toBe(8 * MiB);
  const parts = Math.ceil(HUNDRED / state.part_size);
  const held = await call<{ PartNumber: number; Size: number; Checksum?: string }[]>(
    `${API()}/companies/${company}/s3/multipart/${state.upload_id}?key=${encodeURIComponent(state.key)}`,
    { headers: bearer(token) },
  );
  expect(held.status).toBe(200);
  expect(held.body.length).toBeGreaterThan(0);
  expect(held.body.length).toBeLessThan(parts);
  expect(held.body.every((part) => part.Checksum)).toBe(true); // each part went with its CRC32C
  const missing = HUNDRED - held.body.reduce((sum, part) => sum + part.Size, 0);

  proxy.reset();
  const resumed = await runCli(['upload', path.join(dir, 'hundred.bin'), '--json'], env);
  expect(resumed.stderr).toContain('resumed');
  expect(resumed.code).toBe(0);
  const sent = proxy.counts().toS3; // part bodies and their request headers, on the wire
  console.log(
    `CLI resume: ${held.body.length} of ${parts} parts held at the interruption; the resumed ` +
      `run sent ${sent} bytes to S3 for ${missing} missing (${(sent - missing) / 1024} KiB more)`,
  );
  expect(sent).toBeGreaterThanOrEqual(missing);
  expect(sent).toBeLessThanOrEqual(missing + state.part_size); // at most one part more
  const [resource, ...more] = JSON.parse(resumed.stdout) as {
    id: string;
    metadata: { name: string };
    upload_data: { size: number; status: string; checksum?: { algorithm: string } };
  }[];
  expect(more).toEqual([]);
  expect(resource!.metadata.name).toBe('hundred.bin');
  expect(resource!.upload_data).toMatchObject({
    size: HUNDRED,
    status: 'complete',
    checksum: { algorithm: 'CRC32C' },
  });
  expect(await readdir(stateDir)).toEqual([]); // done: the state file is gone
  hundredId = resource!.id;

  // Had Ctrl-C come after S3 completed the upload but before the answer, the state would
  // remain: the same command then finds the file complete, sends nothing, makes no copy.
  await writeFile(path.join(stateDir, stateFile!), JSON.stringify(state));
  proxy.reset();
  const again = await runCli(['upload', path.join(dir, 'hundred.bin'), '--json', '-q'], env);
  expect(again.code).toBe(0);
  expect(proxy.counts().toS3).toBe(0);
  expect(JSON.parse(again.stdout)).toMatchObject([{ id: hundredId }]);
  expect(await readdir(stateDir)).toEqual([]);
});

test('a second upload of a file being uploaded is refused while the first runs', async () => {
  proxy.pace(20 * MiB);
  const first = startCli(['upload', path.join(dir, 'hundred.bin'), '--via', 'direct'], env);
  await first.waitFor(/upload hundred\.bin: \d+% .*\/s/);
  const second = await runCli(['upload', path.join(dir, 'hundred.bin')], env);
  expect(second.code).toBe(5);
  expect(second.stderr).toMatch(/hundred\.bin: is being uploaded by another process \(\d+\)/);
  first.interrupt();
  expect((await first.done).code).toBe(130);
  await proxy.idle();
  proxy.pace(Infinity);
  // The lock went with its process; the state stays for the next run, which resumes.
  const resumed = await runCli(['upload', path.join(dir, 'hundred.bin'), '-q', '--json'], env);
  expect(resumed.code).toBe(0);
  const [copy] = JSON.parse(resumed.stdout) as { id: string }[];
  expect((await runCli(['rm', copy!.id], env)).code).toBe(0);
});

test('download is byte-identical, and an interrupted one resumes by Range', async () => {
  expect(hundredId).toBeDefined();
  const out = path.join(dir, 'copy.bin');
  proxy.pace(30 * MiB);
  const first = startCli(['download', hundredId, '-o', out], env);
  await first.waitFor(/download hundred\.bin: [3-6]\d% /);
  first.interrupt();
  expect((await first.done).code).toBe(130);
  await proxy.idle();
  const partial = (await stat(`${out}.part`)).size;
  expect(partial).toBeGreaterThan(0);
  expect(partial).toBeLessThan(HUNDRED);

  proxy.reset();
  proxy.pace(Infinity);
  const resumed = await runCli(['download', hundredId, '-o', out], env);
  expect(resumed.code).toBe(0);
  expect(resumed.stdout.trim()).toBe(out);
  const fetched = proxy.counts().fromS3;
  console.log(
    `CLI download resume: ${partial} bytes kept from the interrupted run; the resumed run ` +
      `fetched ${fetched} bytes from S3 for ${HUNDRED - partial} missing`,
  );
  expect(fetched).toBeGreaterThanOrEqual(HUNDRED - partial);
  expect(fetched).toBeLessThan(HUNDRED - partial + 64 * 1024); // the rest, and headers
  expect(sha256(await readFile(out))).toBe(sha256(hundred));
  expect((await readdir(dir)).filter((name) => name.startsWith('copy.bin.'))).toEqual([]);

  // Into a directory it keeps the file's name; `-o -` writes the bytes to stdout.
  const intoDir = await runCli(['download', hundredId, '-o', stateDir, '--json', '-q'], env);
  expect(JSON.parse(intoDir.stdout)).toMatchObject({
    path: path.join(stateDir, 'hundred.bin'),
    size: HUNDRED,
  });
  await rm(path.join(stateDir, 'hundred.bin'));
});

test('several files at once: --json in argument order, info, thumbnails and rm', async () => {
  await writeFile(path.join(dir, 'photo.png'), await image.png(1200, 800));
  await writeFile(path.join(dir, 'notes.txt'), 'Notes, in UTF-8: café\n');
  await writeFile(path.join(dir, 'six.bin'), binaryBytes(6 * MiB, 3));
  const files = ['photo.png', 'notes.txt', 'six.bin'].map((name) => path.join(dir, name));
  const uploaded = await runCli(
    ['upload', ...files, '--thumbnails', '--parallel', '3', '--json'],
    env,
  );
  expect(uploaded.code).toBe(0);
  const resources = JSON.parse(uploaded.stdout) as {
    id: string;
    metadata: { name: string; mime: string };
    thumbnails: { width: number }[];
    upload_data: { size: number; chunks: number };
  }[];
  expect(resources.map((resource) => resource.metadata.name)).toEqual([
    'photo.png',
    'notes.txt',
    'six.bin',
  ]);
  const [photo, notes, six] = resources;
  expect(photo!.thumbnails.length).toBeGreaterThan(0); // --thumbnails waited for them
  expect(notes!.metadata.mime).toBe('text/plain');
  expect(six!.upload_data).toMatchObject({ size: 6 * MiB, chunks: 1 }); // one 8 MiB direct part

  const info = await runCli(['info', photo!.id], env);
  expect(info.code).toBe(0);
  expect(info.stdout).toMatch(/^name {7}photo\.png$/m);
  expect(info.stdout).toMatch(/^thumbnails 600x400 image\/\w+ \(done\)$/m);
  const infoJson = await runCli(['info', photo!.id, '--json'], env);
  expect(JSON.parse(infoJson.stdout)).toMatchObject({ id: photo!.id, company_id: company });

  const thumbnails = await runCli(
    ['thumbnails', photo!.id, '--out', path.join(dir, 'thumbs')],
    env,
  );
  expect(thumbnails.code).toBe(0);
  const [written] = thumbnails.stdout.trim().split('\n');
  expect(path.basename(written!)).toMatch(/^photo\.thumbnail-0\.\w+$/);
  expect(await sharp(written!).metadata()).toMatchObject({ width: 600, height: 400 });

  const removed = await runCli(['rm', notes!.id], env);
  expect(removed.stdout.trim()).toBe(`deleted ${notes!.id}`);
  const gone = await runCli(['info', notes!.id], env);
  expect(gone.code).toBe(4);
  expect(gone.stderr).toContain('404 File not found');
});

test('an empty file, a file named twice, a missing one: --json has one entry per file', async () => {
  await writeFile(path.join(dir, 'empty.txt'), '');
  const empty = path.join(dir, 'empty.txt');
  const result = await runCli(
    ['upload', empty, empty, path.join(dir, 'absent.bin'), '--via', 'direct', '--json', '-q'],
    env,
  );
  expect(result.code).toBe(2); // the absent file's
  const [uploaded, missing, ...rest] = JSON.parse(result.stdout) as Record<string, unknown>[];
  expect(rest).toEqual([]); // empty.txt once
  expect(uploaded).toMatchObject({ metadata: { name: 'empty.txt' }, upload_data: { size: 0 } });
  expect(missing).toEqual({
    error: {
      file: path.join(dir, 'absent.bin'),
      message: 'cannot be read (ENOENT)',
      exit_code: 2,
    },
  });
  // rm goes on past an id it cannot delete, and exits with that failure's code.
  const removed = await runCli(
    ['rm', '00000000-0000-4000-8000-000000000000', String(uploaded!['id'])],
    env,
  );
  expect(removed.code).toBe(4);
  expect(removed.stdout.trim()).toBe(`deleted ${String(uploaded!['id'])}`);
});

test('--via chunks sends Twake chunks through the API, and the bytes come back whole', async () => {
  const bytes = binaryBytes(9 * MiB + 5, 11);
  await writeFile(path.join(dir, 'chunky.bin'), bytes);
  proxy.reset();
  const uploaded = await runCli(
    ['upload', path.join(dir, 'chunky.bin'), '--via', 'chunks', '--json', '-q'],
    env,
  );
  expect(uploaded.code).toBe(0);
  const [resource] = JSON.parse(uploaded.stdout) as {
    id: string;
    upload_data: { chunks: number };
  }[];
  expect(resource!.upload_data.chunks).toBe(3); // 4 MiB, 4 MiB, the rest
  expect(proxy.counts().toS3).toBe(0); // nothing went to S3 from the CLI
  const out = path.join(dir, 'chunky.copy');
  expect((await runCli(['download', resource!.id, '-o', out, '-q'], env)).code).toBe(0);
  expect(sha256(await readFile(out))).toBe(sha256(bytes));
});

test('connections to S3 that fail are tried again, and the file completes whole', async () => {
  const bytes = binaryBytes(20 * MiB, 13);
  await writeFile(path.join(dir, 'flaky.bin'), bytes);
  proxy.dropNext(3);
  const uploaded = await runCli(['upload', path.join(dir, 'flaky.bin'), '--json', '-q'], env);
  expect(proxy.dropped()).toBe(3);
  expect(uploaded.code).toBe(0);
  const [resource] = JSON.parse(uploaded.stdout) as { id: string }[];
  const out = path.join(dir, 'flaky.copy');
  expect((await runCli(['download', resource!.id, '-o', out, '-q'], env)).code).toBe(0);
  expect(sha256(await readFile(out))).toBe(sha256(bytes));
});

test('errors say what went wrong, with an exit code by kind', async () => {
  const cases: [string[], Record<string, string>, number, RegExp][] = [
    [['info', hundredId], { SERVERLESS_FILES_TOKEN: '' }, 2, /No token: pass --token/],
    [['info', hundredId], { SERVERLESS_FILES_COMPANY: '' }, 2, /No company/],
    [['info', hundredId, '--token', 'x.y.z'], {}, 3, /401 /],
    [['info', '00000000-0000-4000-8000-000000000000'], {}, 4, /404 File not found/],
    [['upload', path.join(dir, 'absent.bin')], {}, 2, /absent\.bin: cannot be read \(ENOENT\)/],
    [
      ['info', hundredId, '--url', 'http://127.0.0.1:9'],
      {},
      7,
      /Cannot reach http:\/\/127\.0\.0\.1:9/,
    ],
    [['upload', '--part-size', '2', 'x'], {}, 2, /expected a whole number of at least 5/],
    [['upload', 'x', '--via', 'pigeon'], {}, 2, /Allowed choices are auto, direct, chunks/],
    [['frobnicate'], {}, 2, /unknown command 'frobnicate'/],
    [['info', hundredId, '--url', '127.0.0.1:3000'], {}, 2, /--url must be an http\(s\) URL/],
    [
      ['download', hundredId, '-o', path.join(dir, 'no-such-dir') + '/'],
      {},
      2,
      /no such file or directory/,
    ],
  ];
  for (const [args, extra, code, message] of cases) {
    const result = await runCli(args, { ...env, ...extra });
    expect({ args, code: result.code }).toEqual({ args, code });
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  }
  for (const command of ['upload', 'download', 'info', 'thumbnails', 'rm']) {
    const help = await runCli([command, '--help'], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain(`Usage: serverless-files ${command}`);
  }
  const help = await runCli(['--help'], env);
  expect(help.stdout).toContain('130 interrupted');
});
