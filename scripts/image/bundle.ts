/**
 * node --require tsx/cjs scripts/image/bundle.ts OUT_DIR (as the Dockerfile runs it): the
 * thumbnailer's handler bundled for its container image, as serverless-esbuild bundles the
 * zipped functions: the options of serverless.yml's
 * `custom.esbuild`, its `exclude` list left external (the image installs those packages
 * beside the bundle, from image/package.json). Writes OUT_DIR/functions/s3/make-thumbnails.js,
 * the file the image's command names.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { build, type BuildOptions } from 'esbuild';
import { parse } from 'yaml';

const root = path.resolve(__dirname, '../..');
export const THUMBNAILER_ENTRY = 'functions/s3/make-thumbnails.ts';

interface EsbuildSettings {
  bundle: boolean;
  minify: boolean;
  target: string;
  platform: 'node';
  mainFields: string[];
  exclude: string[];
  loader?: Record<string, 'text'>;
}

/** serverless.yml's `custom.esbuild`, read without resolving its variables or tags. */
export function esbuildSettings(): EsbuildSettings {
  const config = parse(readFileSync(path.join(root, 'serverless.yml'), 'utf8'), {
    logLevel: 'error', // CloudFormation tags (!Sub, !Ref) are not this script's business
  }) as { custom: { esbuild: EsbuildSettings } };
  return config.custom.esbuild;
}

/** esbuild's options for one handler, CommonJS as serverless-esbuild writes it. */
export function handlerBuild(entry: string, outfile: string): BuildOptions {
  const { bundle, minify, target, platform, mainFields, exclude, loader } = esbuildSettings();
  return {
    entryPoints: [path.join(root, entry)],
    bundle,
    minify,
    target,
    platform,
    mainFields,
    external: exclude,
    ...(loader && { loader }),
    format: 'cjs',
    outfile,
    logLevel: 'error',
  };
}

/** Bundles the thumbnailer into outDir; returns the bundle's path. */
export async function bundleThumbnailer(outDir: string): Promise<string> {
  const outfile = path.join(outDir, THUMBNAILER_ENTRY.replace(/\.ts$/, '.js'));
  await build(handlerBuild(THUMBNAILER_ENTRY, outfile));
  return outfile;
}

if (require.main === module) {
  const outDir = process.argv[2];
  if (!outDir) throw new Error('usage: node --require tsx/cjs scripts/image/bundle.ts OUT_DIR');
  void bundleThumbnailer(path.resolve(outDir)).then((file) => process.stdout.write(`${file}\n`));
}
