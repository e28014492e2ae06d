import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SsmRequest {
  target: string;
  body: { Name: string; WithDecryption?: boolean };
}

/**
 * SSM Parameter Store's JSON protocol, GetParameter only, on 127.0.0.1: no SSM emulator runs
 * here, and deployed stages read their JWT secret from it. The real SDK client reaches it
 * through AWS_ENDPOINT_URL_SSM. Serves `parameters`; any other name is ParameterNotFound.
 */
export async function startFakeSsm(parameters: Map<string, string>) {
  const requests: SsmRequest[] = [];
  const server: Server = createServer((request, response) => {
    let text = '';
    request.on('data', (piece: Buffer) => (text += piece.toString()));
    request.on('end', () => {
      const body = JSON.parse(text) as SsmRequest['body'];
      requests.push({ target: String(request.headers['x-amz-target']), body });
      response.setHeader('content-type', 'application/x-amz-json-1.1');
      const value = parameters.get(body.Name);
      if (value === undefined) {
        response.statusCode = 400;
        response.end(JSON.stringify({ __type: 'ParameterNotFound', message: body.Name }));
        return;
      }
      response.end(
        JSON.stringify({
          Parameter: { Name: body.Name, Type: 'SecureString', Value: value, Version: 1 },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
