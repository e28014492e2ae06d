/** Text files bundled as strings (esbuild's `text` loader, serverless.yml; jest's transform). */
declare module '*.yaml' {
  const text: string;
  export default text;
}
