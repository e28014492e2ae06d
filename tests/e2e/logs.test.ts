import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { call, filesUrl, multipart } from '../helpers/api';
import { bearer, newCompanyId, tokenFor } from '../helpers/principals';

const stackLog = () =>
  readFile(path.join(process.env['LOCAL_DATA_DIR'] ?? '', 'stack.log'), 'utf8');

async function logMentioning(text: string): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const log = await stackLog();
    if (log.includes(text)) return log;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the stack log never mentioned ${text}`);
}

test('tokens never reach the logs, from the header or the query, on success or failure', async () => {
  const company = newCompanyId();
  const token = await tokenFor({ company, user: 'logan' });
  const created = await call<{ resource: { id: string } }>(filesUrl(company), {
    method: 'POST',
    headers: bearer(token),
    body: multipart(Buffer.from('x'), 'x.txt'),
  });
  const fileId = created.body.resource.id;
  await call(filesUrl(company, `/${fileId}/download?token=${token}`));
  await call(filesUrl(company, `/${fileId}/download?token=${token}x`));
  await call(filesUrl(company, `/${fileId}?token=${token}`));
  const marker = crypto.randomUUID();
  await call(filesUrl(company, `/${marker}`), { headers: bearer(token) });

  const log = await logMentioning(marker);
  expect(log).toContain(fileId);
  const signature = token.split('.')[2] ?? '';
  expect(signature.length).toBeGreaterThan(20);
  expect(log).not.toContain(signature);
});

test('signed read links never reach the logs, used or tampered with', async () => {
  const company = newCompanyId();
  const token = await tokenFor({ company, user: 'lina' });
  const created = await call<{ resource: { id: string; download_url: string } }>(
    filesUrl(company),
    { method: 'POST', headers: bearer(token), body: multipart(Buffer.from('x'), 'x.txt') },
  );
  const link = created.body.resource.download_url;
  const origin = new URL(process.env['TEST_API_URL'] ?? '').origin;
  expect((await call(`${origin}${link}`)).status).toBe(302);
  expect((await call(`${origin}${link}x`)).status).toBe(403);
  const marker = crypto.randomUUID();
  await call(filesUrl(company, `/${marker}`), { headers: bearer(token) });

  const log = await logMentioning(marker);
  const signature = new URL(link, origin).searchParams.get('signature') ?? '';
  expect(signature.length).toBe(43);
  expect(log).not.toContain(signature);
});
