import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { config } from '../config';
import type { Assemblies } from '../domain/ports';

const client = new LambdaClient(config.lambdaEndpoint ? { endpoint: config.lambdaEndpoint } : {});

/** Asynchronous invocations: Lambda queues them and retries a failed run twice. */
export const assemblies: Assemblies = {
  async enqueue(job) {
    await client.send(
      new InvokeCommand({
        FunctionName: config.assembleFunctionName,
        InvocationType: 'Event',
        Payload: JSON.stringify(job),
      }),
    );
  },
};
