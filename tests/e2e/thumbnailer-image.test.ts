import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { S3Event } from 'aws-lambda';
import { bundleThumbnailer } from '../../scripts/image/bundle';
import { uploadWithThumbnails } from '../helpers/api';
import { fileItem, putFileItem } from '../helpers/aws';
import { heic, image, videoClip } from '../helpers/media';
import { officeDocument } from '../helpers/office';
import { newCompanyId, tokenFor } from '../helpers/principals';
import { startRuntimeApi, type RuntimeApi } from '../helpers/runtime-api';

/**
 * The thumbnailer as its container image runs it: the bundle the Dockerfile builds, started
 * by the image's entry point (Lambda's runtime interface client) against a Runtime API, with
 * its renderer children, LibreOffice and ffmpeg. What differs from the image: this machine's
 * Debian packages and architecture (the image installs the same package list, for arm64) and
 * the project's node_modules in place of the image's (the same versions, the template test
 * checks).
 */

const root = path.resolve(__dirname, '../..');
const company = newCompanyId();
let token: string;
let work: string;
let runtime: RuntimeApi;
let entry: ChildProcess;
let said = '';
/** Rejects, with what the entry point said, once it ends: it should serve until killed. */
let ended: Promise<never>;

beforeAll(async () => {
  token = await tokenFor({ company, user: 'iris' });
  work = await mkdtemp(path.join(tmpdir(), 'thumbnailer-image-'));
  const task = path.join(work, 'function');
  await bundleThumbnailer(task);
  await symlink(path.join(root, 'node_modules'), path.join(task, 'node_modules'));
  runtime = await startRuntimeApi();
  entry = spawn(path.join(root, 'image/entrypoint.sh'), ['functions/s3/make-thumbnails.handler'], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      AWS_LAMBDA_RUNTIME_API: runtime.address,
      // What Lambda sets in every function's environment.
      AWS_LAMBDA_FUNCTION_NAME: 'makeThumbnails',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '2048',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/makeThumbnails',
      AWS_LAMBDA_LOG_STREAM_NAME: '2026/12/01/[$LATEST]test',
      // Lambda's own: /var/task for every image (here the bundle's folder), no _HANDLER.
      LAMBDA_TASK_ROOT: task,
      _HANDLER: '',
      HOME: work,
    },
  });
  for (const stream of [entry.stdout!, entry.stderr!]) {
    stream.on('data', (piece: Buffer) => (said = (said + piece.toString()).slice(-4000)));
  }
  ended = new Promise((_, reject) =>
    entry.once('exit', (code) => reject(new Error(`the entry point ended (${code}): ${said}`))),
  );
  ended.catch(() => undefined);
}, 60_000);

afterAll(async () => {
  if (entry?.pid && entry.exitCode === null) process.kill(-entry.pid, 'SIGKILL');
  await runtime?.close();
  await rm(work, { recursive: true, force: true });
});

/** An S3 event for a file's current revision (events/s3's sample, pointed at it). */
function objectCreated(fileId: string, revision: string): S3Event {
  const sample = JSON.parse(
    readFileSync(path.join(root, 'events/s3/object-created.json'), 'utf8'),
  ) as S3Event;
  sample.Records[0]!.s3.bucket.name = process.env['BUCKET'] ?? '';
  sample.Records[0]!.s3.object.key = `files/${company}/${fileId}/${revision}/data`;
  return sample;
}

/**
 * Uploads a file (the stack's own thumbnailer makes its thumbnails), then puts its record back
 * to awaiting them, so that only the image's run can make them again.
 */
async function awaitingThumbnails(bytes: Buffer, name: string, mime: string) {
  const response = await uploadWithThumbnails<{ id: string }>(company, token, {
    bytes,
    name,
    mime,
  });
  expect(response.status).toBe(200);
  const fileId = response.body.resource.id;
  const item = (await fileItem(company, fileId))!;
  const content = { ...item['content'], thumbnails_status: 'waiting', thumbnails: [] };
  expect(item['content'].thumbnails_status).toBe('done');
  delete content.thumbnail_attempts;
  await putFileItem({ ...item, content });
  return { fileId, revision: content.revision as string };
}

test.each([
  ['a docx of 2 pages, through LibreOffice', 'docx', 2],
  ['a video, through ffmpeg', 'mp4', 1],
  ['a HEIC photo, through libheif in wasm (bundled)', 'heic', 1],
] as const)(
  '%s: the entry point serves the S3 event and the thumbnails are recorded',
  async (_what, format, expected) => {
    const [bytes, name, mime] =
      format === 'docx'
        ? [
            await officeDocument('docx', 2),
            'report.docx',
            'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
          ]
        : format === 'heic'
          ? [await heic(await image.jpeg(640, 480)), 'IMG_0004.HEIC', 'image/heic']
          : [await videoClip(320, 240), 'clip.mp4', 'video/mp4'];
    const { fileId, revision } = await awaitingThumbnails(bytes, name, mime);
    await expect(
      Promise.race([runtime.invoke(objectCreated(fileId, revision)), ended]),
    ).resolves.toBeNull();
    const content = (await fileItem(company, fileId))?.['content'];
    expect(content).toMatchObject({ thumbnails_status: 'done', thumbnail_attempts: 1 });
    expect(content?.thumbnails).toHaveLength(expected);
    expect(said).not.toMatch(/Runtime\.\w+Error/);
  },
);
