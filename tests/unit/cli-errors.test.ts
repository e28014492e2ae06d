import { EXIT, refusal } from '../../cli/api.mts';

test("the service's message is the CLI's, with an exit code by status", () => {
  const error = refusal(
    404,
    '{"statusCode":404,"error":"Not Found","message":"File not found"}',
    'GET /files/x',
  );
  expect(error.message).toBe('GET /files/x: 404 File not found');
  expect(error.exitCode).toBe(EXIT.notFound);
  expect(refusal(403, '{}', 'x').exitCode).toBe(EXIT.auth);
  expect(refusal(413, '', 'x').exitCode).toBe(EXIT.refused);
  expect(refusal(503, 'busy', 'x').exitCode).toBe(EXIT.unavailable);
});

test('a token another server echoes back (S3 refusing the Authorization header) is not printed', () => {
  const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';
  const xml =
    '<Error><Code>InvalidArgument</Code><ArgumentName>Authorization</ArgumentName>' +
    `<ArgumentValue>Bearer ${token}</ArgumentValue></Error>`;
  const error = refusal(400, xml, 'GET /files/x');
  expect(error.message).not.toContain(token);
  expect(error.message).toContain('<ArgumentValue>Bearer <token></ArgumentValue>');
});
