/**
 * osls plugin for packaging and deploying to AWS. Every function has a role of its own
 * (serverless-iam-roles-per-function): the shared role osls still compiles would be unused, so
 * it is dropped rather than left deployed with permissions on every function's logs.
 */
interface Serverless {
  service: { provider: { compiledCloudFormationTemplate: { Resources: Record<string, unknown> } } };
}

const SHARED_ROLE = 'IamRoleLambdaExecution';

class DeployPlugin {
  hooks: Record<string, () => void>;

  constructor(serverless: Serverless) {
    this.hooks = { 'before:package:finalize': () => dropSharedRole(serverless) };
  }
}

function dropSharedRole(serverless: Serverless): void {
  const { Resources } = serverless.service.provider.compiledCloudFormationTemplate;
  const others = Object.entries(Resources).filter(([name]) => name !== SHARED_ROLE);
  // Still named anywhere (a Ref, a GetAtt, a DependsOn): some function uses it, keep it.
  if (JSON.stringify(others).includes(`"${SHARED_ROLE}"`)) return;
  delete Resources[SHARED_ROLE];
}

export default DeployPlugin;
