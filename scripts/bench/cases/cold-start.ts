/**
 * Cold start proxy (needs no stack). Each function as deployed: the size of its zip (from
 * `osls package` for a production stage, built offline) and the time to load its bundle in a
 * fresh Node process, a proxy for the module-load part of a Lambda cold start. Next to it, in
 * the same run: a bare `node -e 0`. Medians of several interleaved rounds, with min and max.
 *
 * Each bundle loads with the environment its function gets in the template. The thumbnailer
 * is a container image: its bundle is built as the Dockerfile builds it (scripts/image), and
 * its externals (sharp, pdf.js: installed beside it in the image) resolve from node_modules.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import JSZip from 'jszip';
import { EXAMPLE_THUMBNAILER_IMAGE, packageService } from '../../deploy/package-service';
import { bundleThumbnailer } from '../../image/bundle';
import { type CaseResult, type Spread, root, round, show, stats } from '../common';

const ROUNDS = 9;
const ZIP_TARGET_KIB = 1024;
const LOAD_TARGET_MS = 150;

/** Wall time of one fresh `node` running `args`, in ms. */
function timeNode(args: string[], env: NodeJS.ProcessEnv): number {
  const started = performance.now();
  execFileSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
  return performance.now() - started;
}

interface ColdStartFigures {
  node_e_0_ms: Spread;
  functions: Record<
    string,
    {
      http: boolean;
      /** The zip's size; null for the container image. */
      zip_kib: number | null;
      process_ms: Spread;
      load_above_node_ms: number;
    }
  >;
}

/** Packages the service and measures every function; leaves nothing behind. */
async function measureColdStarts(): Promise<ColdStartFigures> {
  const work = await mkdtemp(path.join(tmpdir(), 'serverless-files-cold-start-'));
  try {
    const packaged = path.join(work, 'package');
    const template = await packageService('prod', packaged, {
      thumbnailerImage: EXAMPLE_THUMBNAILER_IMAGE,
    });
    // <Name>LambdaFunction, and <Name>LambdaPermissionHttpApi when API Gateway invokes it.
    const functions = Object.entries(template.Resources)
      .filter(
        ([id, resource]) => resource.Type === 'AWS::Lambda::Function' && !id.startsWith('Custom'),
      )
      .map(([id, resource]) => {
        const base = id.replace(/LambdaFunction$/, '');
        const properties = resource.Properties as {
          Handler?: string;
          PackageType?: string;
          Environment: { Variables: Record<string, string> };
        };
        return {
          name: `${base[0]!.toLowerCase()}${base.slice(1)}`,
          handler: properties.Handler,
          image: properties.PackageType === 'Image',
          http: `${base}LambdaPermissionHttpApi` in template.Resources,
          environment: properties.Environment.Variables,
        };
      });

    const bundles = await Promise.all(
      functions.map(async (fn) => {
        if (fn.image) {
          const file = await bundleThumbnailer(path.join(root, '.esbuild/bench/image'));
          return { ...fn, file, zipKiB: null };
        }
        const zipPath = path.join(packaged, `${fn.name}.zip`);
        const zip = await JSZip.loadAsync(await readFile(zipPath));
        const dir = path.join(work, fn.name);
        for (const [name, entry] of Object.entries(zip.files)) {
          if (entry.dir) continue;
          await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
          await writeFile(path.join(dir, name), await entry.async('nodebuffer'));
        }
        const file = path.join(dir, `${fn.handler!.replace(/\.[^.]+$/, '')}.js`);
        return { ...fn, file, zipKiB: (await stat(zipPath)).size / 1024 };
      }),
    );

    const bare = { PATH: process.env['PATH'] };
    const nodeTimes: number[] = [];
    const loadTimes = new Map<string, number[]>(bundles.map((b) => [b.name, []]));
    for (let i = 0; i < ROUNDS; i++) {
      nodeTimes.push(timeNode(['-e', '0'], bare));
      for (const bundle of bundles) {
        const env = {
          ...bare,
          ...bundle.environment,
          AWS_REGION: 'eu-west-1',
          NODE_PATH: path.join(root, 'node_modules'),
        };
        loadTimes
          .get(bundle.name)!
          .push(timeNode(['-e', `require(${JSON.stringify(bundle.file)})`], env));
      }
    }
    const node = stats(nodeTimes, 1);
    return {
      node_e_0_ms: node,
      functions: Object.fromEntries(
        bundles.map((bundle) => {
          const process_ms = stats(loadTimes.get(bundle.name)!, 1);
          return [
            bundle.name,
            {
              http: bundle.http,
              zip_kib: bundle.zipKiB === null ? null : round(bundle.zipKiB),
              process_ms,
              load_above_node_ms: round(process_ms.median - node.median, 1),
            },
          ];
        }),
      ),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Every function within the load target, every HTTP function's zip within its size. */
export async function coldStart(): Promise<CaseResult> {
  const figures = await measureColdStarts();
  const functions = Object.entries(figures.functions);
  const slowest = functions.reduce((a, b) =>
    b[1].load_above_node_ms > a[1].load_above_node_ms ? b : a,
  );
  const largest = functions
    .filter(([, fn]) => fn.http)
    .reduce((a, b) => ((b[1].zip_kib ?? 0) > (a[1].zip_kib ?? 0) ? b : a));
  const node = figures.node_e_0_ms;
  return {
    case: `cold start proxy: module load of each of the ${functions.length} function bundles`,
    service: `slowest ${slowest[0]}: ${show(slowest[1].process_ms, 'ms')}; largest HTTP zip ${largest[0]}: ${largest[1].zip_kib} KiB (every function in latest.json)`,
    baseline: `\`node -e 0\`: ${show(node, 'ms')}`,
    result: `+${slowest[1].load_above_node_ms} ms`,
    target: `<= ${LOAD_TARGET_MS} ms above it; HTTP zips < ${ZIP_TARGET_KIB} KiB`,
    met:
      functions.every(([, fn]) => fn.load_above_node_ms <= LOAD_TARGET_MS) &&
      functions.every(([, fn]) => !fn.http || (fn.zip_kib ?? 0) < ZIP_TARGET_KIB),
    figures: {
      rounds: ROUNDS,
      targets: { load_above_node_ms: LOAD_TARGET_MS, http_zip_kib: ZIP_TARGET_KIB },
      ...figures,
    },
    details: [
      `| function | zip | \`node\` loading its bundle | load above \`node -e 0\` (${show(node, 'ms')}) |`,
      '|---|---|---|---|',
      ...functions.map(
        ([name, fn]) =>
          `| ${name}${fn.http ? ' (HTTP)' : ''} | ${fn.zip_kib === null ? 'image' : `${fn.zip_kib} KiB`} | ${show(fn.process_ms, 'ms')} | ${fn.load_above_node_ms} ms |`,
      ),
    ],
  };
}
