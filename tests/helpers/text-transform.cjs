// Jest's counterpart of esbuild's `text` loader (serverless.yml): a .yaml file is its text.
module.exports = {
  process(source) {
    return { code: `module.exports = ${JSON.stringify(source)};` };
  },
};
