import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { parse } from 'yaml';
import { API, call, filesUrl, multipart } from '../helpers/api';
import { bearer, newCompanyId, tokenFor } from '../helpers/principals';
import { launchChromium } from './page-server';

/**
 * The docs page (GET …/docs) in Debian's Chromium: Swagger UI renders the document the service
 * serves, shows every route of openapi.yaml, loads nothing from another origin, breaks none of
 * its content security policy, and "Try it out" gets the service's answers: the health route,
 * and with a token (Authorize) the download route's link.
 */

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

test('the docs page shows every route, from this service alone, and its try-it reaches the service', async () => {
  const document = parse(await readFile(path.resolve(__dirname, '../../openapi.yaml'), 'utf8')) as {
    paths: Record<string, Record<string, unknown>>;
  };
  const documented = Object.entries(document.paths)
    .flatMap(([route, item]) =>
      ['get', 'post', 'delete'].filter((m) => m in item).map((m) => `${m.toUpperCase()} ${route}`),
    )
    .sort();

  const page = await browser.newPage();
  const origin = new URL(API()).origin;
  const elsewhere: string[] = [];
  const problems: string[] = [];
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(`${origin}/`) && !url.startsWith('data:')) elsewhere.push(url);
  });
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));

  await page.goto(`${API()}/docs`);
  await page.locator('.opblock').first().waitFor({ timeout: 30_000 });
  await expect(page.locator('.info .title').first().textContent()).resolves.toContain(
    'Serverless Files',
  );
  const shown = (
    await page
      .locator('.opblock-summary')
      .evaluateAll((blocks) =>
        blocks.map(
          (block) =>
            `${block.querySelector('.opblock-summary-method')?.textContent ?? ''} ` +
            `${block.querySelector('.opblock-summary-path')?.getAttribute('data-path') ?? ''}`,
        ),
      )
  ).sort();
  expect(shown).toEqual(documented);

  // Try it out: the health route, sent by the page to this service.
  const health = page.locator('#operations-service-health');
  await health.locator('.opblock-summary').click();
  await health.getByRole('button', { name: 'Try it out' }).click();
  const answered = page.waitForResponse((response) => response.url().endsWith('/health'));
  await health.getByRole('button', { name: 'Execute' }).click();
  expect((await answered).status()).toBe(200);
  // The page shows the service's answer under "Server response".
  const answer = health.locator('.live-responses-table tr.response');
  await answer.filter({ hasText: '"status": "ok"' }).waitFor();
  await expect(answer.locator('.response-col_status').textContent()).resolves.toContain('200');
  // The request URL it shows is this service's, not the document's example server.
  await expect(health.locator('.request-url pre').textContent()).resolves.toBe(`${API()}/health`);

  // Authorize with a token, then the download route: `redirect` comes filled in with false, so
  // the page gets the presigned link as JSON (it could not follow a 302 to S3).
  const company = newCompanyId();
  const token = await tokenFor({ company, user: 'docs-reader' });
  const created = await call<{ resource: { id: string } }>(filesUrl(company), {
    method: 'POST',
    headers: bearer(token),
    body: multipart(Buffer.from('read me\n'), 'notes.txt', 'text/plain'),
  });
  await page.getByRole('button', { name: 'Authorize' }).first().click();
  await page.locator('.dialog-ux .auth-container input').first().fill(token);
  await page.locator('.dialog-ux .auth-btn-wrapper button.authorize').first().click();
  await page.locator('.dialog-ux button.btn-done').first().click();
  const download = page.locator('#operations-files-downloadFile');
  await download.locator('.opblock-summary').click();
  await download.getByRole('button', { name: 'Try it out' }).click();
  await expect(download.locator('tr[data-param-name="redirect"] input').inputValue()).resolves.toBe(
    'false',
  );
  await download.locator('tr[data-param-name="company_id"] input').fill(company);
  await download.locator('tr[data-param-name="file_id"] input').fill(created.body.resource.id);
  await download.getByRole('button', { name: 'Execute' }).click();
  const link = download.locator('.live-responses-table tr.response');
  await link.filter({ hasText: '"url"' }).waitFor();
  await expect(link.locator('.response-col_status').textContent()).resolves.toContain('200');

  // With a trailing slash the page finds its files all the same.
  await page.goto(`${API()}/docs/`);
  await page.locator('.opblock').first().waitFor({ timeout: 30_000 });

  expect(elsewhere).toEqual([]);
  expect(problems).toEqual([]);
  console.log(
    `docs page: ${shown.length} operations shown; try-it answered 200 on /health, and on the ` +
      'download route with a token',
  );
});
