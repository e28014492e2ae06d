#!/usr/bin/env node
/**
 * serverless-files: the command line of the Serverless Files service.
 *
 *   npx serverless-files upload FILE… --company C [--thumbnails] [--json]
 *   npx serverless-files download ID [-o FILE] --company C
 *   npx serverless-files info ID | thumbnails ID [--out DIR] | rm ID…   --company C
 *
 * The service and the caller come from flags or the environment (SERVERLESS_FILES_URL,
 * SERVERLESS_FILES_TOKEN, SERVERLESS_FILES_COMPANY). Results go to stdout, progress and errors
 * to stderr; the exit code tells the kind of failure (EXIT in api.mts, listed by --help).
 */
import path from 'node:path';
import { Command, InvalidArgumentError, Option, CommanderError } from 'commander';
import packageJson from '../package.json' with { type: 'json' };
import { Api, CliError, EXIT, Interrupted } from './api.mts';
import { download, fileResource, thumbnails } from './download.mts';
import { bytes, progressFor } from './progress.mts';
import { type FileResource } from './resource.mts';
import { upload, type Uploaded } from './upload.mts';

const MiB = 1024 * 1024;

interface Globals {
  url: string;
  token?: string;
  company?: string;
  json?: boolean;
  quiet?: boolean;
}

// Ctrl-C (or a TERM) stops the transfers where they are: what the service acknowledged stays,
// and the same command resumes. A second Ctrl-C leaves at once.
const interruption = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interruption.abort();
    process.once(signal, () => process.exit(EXIT.interrupted));
  });
}

function connect(command: Command): { api: Api; globals: Globals; company: string } {
  const globals = command.optsWithGlobals<Globals>();
  if (!/^https?:\/\/[^/]/.test(globals.url) || !URL.canParse(globals.url)) {
    throw new CliError(
      `--url must be an http(s) URL, such as http://127.0.0.1:3000, not ${globals.url}`,
      EXIT.usage,
    );
  }
  if (!globals.token) {
    throw new CliError(
      'No token: pass --token or set SERVERLESS_FILES_TOKEN (for the local stack, ' +
        '`npm run token -- --company C --user U` prints one)',
      EXIT.usage,
    );
  }
  if (!globals.company) {
    throw new CliError('No company: pass --company or set SERVERLESS_FILES_COMPANY', EXIT.usage);
  }
  const api = new Api(
    { url: globals.url, token: globals.token, company: globals.company },
    interruption.signal,
  );
  return { api, globals, company: globals.company };
}

function whole(least: number) {
  return (raw: string): number => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < least) {
      throw new InvalidArgumentError(`expected a whole number of at least ${least}`);
    }
    return value;
  };
}

const print = (text: string) => process.stdout.write(`${text}\n`);
const json = (value: unknown) => print(JSON.stringify(value, null, 2));

function describe(resource: FileResource): string {
  const data = resource.upload_data;
  const thumbnails = resource.thumbnails
    .map((thumbnail) => `${thumbnail.width}x${thumbnail.height} ${thumbnail.type}`)
    .join(', ');
  const rows: [string, string | undefined][] = [
    ['id', resource.id],
    ['name', resource.metadata?.name],
    ['type', resource.metadata?.mime],
    ['size', data ? `${data.size} bytes (${bytes(data.size)})` : undefined],
    ['status', data?.status ?? 'empty'],
    ['checksum', data?.checksum && `${data.checksum.algorithm} ${data.checksum.value}`],
    ['created', new Date(resource.created_at).toISOString()],
    ['updated', new Date(resource.updated_at).toISOString()],
    [
      'by',
      resource.user_id ??
        (resource.application_id && `application ${resource.application_id}`) ??
        undefined,
    ],
    ['thumbnails', `${thumbnails || 'none'} (${resource.metadata?.thumbnails_status ?? 'none'})`],
  ];
  return rows
    .filter((row): row is [string, string] => Boolean(row[1]))
    .map(([name, value]) => `${name.padEnd(11)}${value}`)
    .join('\n');
}

const program = new Command('serverless-files')
  .description('Upload, download and manage the files of a Serverless Files service.')
  .version(packageJson.version)
  .addOption(
    new Option('--url <url>', "the service's URL")
      .env('SERVERLESS_FILES_URL')
      .default('http://127.0.0.1:3000'),
  )
  .addOption(
    new Option('--token <jwt>', 'a Twake access token (prefer the environment)').env(
      'SERVERLESS_FILES_TOKEN',
    ),
  )
  .addOption(new Option('-c, --company <id>', 'the company').env('SERVERLESS_FILES_COMPANY'))
  .option('--json', 'print results as JSON on stdout')
  .option('-q, --quiet', 'no progress on stderr')
  .showHelpAfterError()
  .configureHelp({ showGlobalOptions: true })
  .exitOverride()
  .addHelpText(
    'after',
    `
Exit codes: 0 done, 1 unexpected failure, 2 bad usage or unreadable file, 3 token refused
or not allowed (401, 403), 4 not found (404), 5 conflict (409), 6 input refused (400, 413,
415), 7 service unreachable or failing (5xx), 130 interrupted (run the same command to resume).`,
  );

program
  .command('upload')
  .description(
    'Upload files: straight to S3 in parts with CRC32C checksums above 4 MiB, as Twake chunks ' +
      'otherwise. Interrupted, the same command resumes from what the service holds.',
  )
  .argument('<file...>', 'the files to upload')
  .option('--thumbnails', 'wait (up to 10 s) for the thumbnails, and answer them')
  .addOption(
    new Option('--via <path>', 'direct (S3 parts), chunks (Twake), or auto by size')
      .choices(['auto', 'direct', 'chunks'])
      .default('auto'),
  )
  .option('--part-size <MiB>', 'size of direct parts, in MiB (at least 5)', whole(5), 8)
  .option('--concurrency <n>', 'parts of one file in flight at once', whole(1), 4)
  .option('--parallel <n>', 'files uploaded at once', whole(1), 2)
  .action(async (given: string[], options, command: Command) => {
    const { api, globals, company } = connect(command);
    // A file named twice is uploaded once.
    const files = [...new Map(given.map((file) => [path.resolve(file), file])).values()];
    const progress = progressFor('upload', globals);
    const results = new Array<Uploaded | CliError>(files.length);
    let next = 0;
    const worker = async () => {
      while (next < files.length && !interruption.signal.aborted) {
        const index = next++;
        results[index] = await upload(
          api,
          files[index]!,
          {
            via: options.via,
            thumbnails: Boolean(options.thumbnails),
            partSize: options.partSize * MiB,
            concurrency: options.concurrency,
            url: globals.url,
            company,
          },
          (name, total, held) => progress.start(name, total, held),
        ).catch((error: unknown) => asCliError(error));
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.parallel, files.length) }, worker));
    progress.stop();
    const outcomes = files.map((file, i) => ({
      file,
      result: results[i] ?? new Interrupted(), // never started: Ctrl-C came first
    }));
    if (globals.json) {
      // One entry per file, in argument order: its resource, or what went wrong.
      json(
        outcomes.map(({ file, result }) =>
          result instanceof CliError
            ? { error: { file, message: result.message, exit_code: result.exitCode } }
            : result.resource,
        ),
      );
    }
    for (const { file, result } of outcomes) {
      if (result instanceof CliError) {
        if (!(result instanceof Interrupted)) {
          process.stderr.write(`error: ${file}: ${result.message}\n`);
        }
        continue;
      }
      const { resource } = result;
      if (!globals.json) {
        print(
          `${resource.id}  ${resource.metadata?.name ?? ''}  ${bytes(resource.upload_data?.size ?? 0)}`,
        );
      }
      if (result.held > 0 && !globals.quiet) {
        process.stderr.write(
          `${resource.metadata?.name}: resumed; ${bytes(result.held)} were already held, ${bytes(result.sent)} sent\n`,
        );
      }
    }
    // The exit code is the interruption's, or the first failure's.
    const failures = outcomes.flatMap(({ result }) => (result instanceof CliError ? [result] : []));
    const first = failures.find((error) => error instanceof Interrupted) ?? failures[0];
    if (first instanceof Interrupted) throw first;
    if (first) process.exitCode = first.exitCode;
  });

program
  .command('download')
  .description('Download a file (resumed by Range when interrupted)')
  .argument('<id>', "the file's id")
  .option(
    '-o, --output <file>',
    "where to write it: a path, a directory (keeping the file's name), or - for stdout",
  )
  .action(async (id: string, options: { output?: string }, command: Command) => {
    const { api, globals } = connect(command);
    const progress = progressFor('download', globals);
    const done = await download(api, id, options.output, (name, total, held) =>
      progress.start(name, total, held),
    ).finally(() => progress.stop());
    if (done.path === '-') return;
    if (globals.json) json(done);
    else print(done.path);
  });

program
  .command('info')
  .description("Show a file's metadata (--json: the resource as the service answers it)")
  .argument('<id>', "the file's id")
  .action(async (id: string, _options, command: Command) => {
    const { api, globals } = connect(command);
    const resource = await fileResource(api, id);
    if (globals.json) json(resource);
    else print(describe(resource));
  });

program
  .command('thumbnails')
  .description("Download a file's thumbnails")
  .argument('<id>', "the file's id")
  .option('--out <dir>', 'the directory to write them to', '.')
  .action(async (id: string, options: { out: string }, command: Command) => {
    const { api, globals } = connect(command);
    const written = await thumbnails(api, id, options.out);
    if (globals.json) json(written);
    else written.forEach(print);
  });

program
  .command('rm')
  .description('Delete files, every revision with them')
  .argument('<id...>', 'the files to delete')
  .action(async (ids: string[], _options, command: Command) => {
    const { api, globals } = connect(command);
    // Each id is tried; a failure is told and the others still go.
    const outcomes: { id: string; deleted: boolean; error?: string }[] = [];
    let exitCode: number = EXIT.ok;
    for (const id of ids) {
      try {
        await api.call('DELETE', `/files/${encodeURIComponent(id)}`);
        outcomes.push({ id, deleted: true });
        if (!globals.json) print(`deleted ${id}`);
      } catch (error) {
        const failure = asCliError(error);
        if (failure instanceof Interrupted) throw failure;
        outcomes.push({ id, deleted: false, error: failure.message });
        process.stderr.write(`error: ${failure.message}\n`);
        if (exitCode === EXIT.ok) exitCode = failure.exitCode;
      }
    }
    if (globals.json) json(outcomes);
    process.exitCode = exitCode;
  });

/** Any failure as a CliError: a local file that cannot be read or written is a usage error. */
function asCliError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  if (interruption.signal.aborted) return new Interrupted();
  const { code, path: file } = error as NodeJS.ErrnoException;
  if (code && file) {
    const reason = code === 'ENOENT' ? 'no such file or directory' : code;
    return new CliError(`${file}: ${reason}`, EXIT.usage);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new CliError(message, EXIT.failure);
}

try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version end here too, with code 0; a usage error has been printed.
    process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    const failure = asCliError(error);
    if (failure instanceof Interrupted) {
      process.stderr.write('Interrupted: run the same command again to resume.\n');
    } else if (process.env['SERVERLESS_FILES_DEBUG'] && error instanceof Error) {
      process.stderr.write(`error: ${error.stack ?? error.message}\n`);
    } else {
      process.stderr.write(`error: ${failure.message}\n`);
    }
    process.exitCode = failure.exitCode;
  }
}
