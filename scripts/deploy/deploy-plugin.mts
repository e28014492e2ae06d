/**
 * osls plugin for packaging and deploying to AWS. Two duties:
 *
 * 1. `osls package` without AWS credentials, so that the deployment artifacts and the
 *    CloudFormation template can be built and checked offline (`npm run package`, the
 *    template test). While packaging, osls asks CloudFormation whether each layer is unchanged
 *    since the last deploy, to reuse its upload (AwsCompileLayers.compareWithLastLayer);
 *    without credentials that question fails the whole package. Here it is answered "not
 *    known", which packages the layer as new. With credentials, and on `deploy`, osls asks.
 * 2. Every function has a role of its own (serverless-iam-roles-per-function). The shared role
 *    osls still compiles would be unused; it is dropped rather than left deployed with
 *    permissions on every function's logs.
 */
interface ServerlessError extends Error {
  code?: string;
}
interface LayersCompiler {
  compareWithLastLayer(layerName: string): Promise<void>;
}
interface Serverless {
  pluginManager: { plugins: object[] };
  processedInput: { commands: string[] };
  service: { provider: { compiledCloudFormationTemplate: { Resources: Record<string, unknown> } } };
}
type Log = { notice(message: string): void };

const SHARED_ROLE = 'IamRoleLambdaExecution';

class DeployPlugin {
  hooks: Record<string, () => void>;

  constructor(serverless: Serverless, _options: unknown, { log }: { log: Log }) {
    this.hooks = { 'before:package:finalize': () => dropSharedRole(serverless) };
    if (serverless.processedInput.commands[0] === 'package')
      answerLayerCheckOffline(serverless, log);
  }
}

function answerLayerCheckOffline(serverless: Serverless, log: Log): void {
  const compiler = serverless.pluginManager.plugins.find(
    (plugin) => plugin.constructor.name === 'AwsCompileLayers',
  ) as LayersCompiler | undefined;
  if (!compiler) throw new Error('osls no longer has AwsCompileLayers: review deploy-plugin');
  const compare = compiler.compareWithLastLayer.bind(compiler);
  compiler.compareWithLastLayer = async (layerName) => {
    try {
      await compare(layerName);
    } catch (error) {
      if ((error as ServerlessError).code !== 'AWS_CREDENTIALS_NOT_FOUND') throw error;
      log.notice(`No AWS credentials: layer ${layerName} is packaged as new.`);
    }
  };
}

function dropSharedRole(serverless: Serverless): void {
  const { Resources } = serverless.service.provider.compiledCloudFormationTemplate;
  const others = Object.entries(Resources).filter(([name]) => name !== SHARED_ROLE);
  // Still named anywhere (a Ref, a GetAtt, a DependsOn): some function uses it, keep it.
  if (JSON.stringify(others).includes(`"${SHARED_ROLE}"`)) return;
  delete Resources[SHARED_ROLE];
}

export default DeployPlugin;
