/** Text files bundled as strings (esbuild's `text` loader, serverless.yml; jest's transform). */
declare module '*.yaml' {
  const text: string;
  export default text;
}

// The docs page's files (functions/http/docs.ts), imported `with { type: 'text' }`.
declare module '*.html' {
  const text: string;
  export default text;
}
declare module 'swagger-ui-dist/swagger-ui-bundle.js' {
  const text: string;
  export default text;
}
declare module '*.css' {
  const text: string;
  export default text;
}
declare module '*/docs/start.js' {
  const text: string;
  export default text;
}

// libheif-js's build with the wasm inlined ships no types of its own (lib/thumbnails/heif.ts).
declare module 'libheif-js/wasm-bundle.js' {
  const libheif: unknown;
  export default libheif;
}
