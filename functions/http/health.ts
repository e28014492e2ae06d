import { json } from '../../lib/http/responses';
import { httpRoute } from '../../lib/http/route';

/**
 * GET /internal/services/files/v1/health: 200 `{"status":"ok"}` when the function runs, for
 * load balancers and uptime monitors. No token, no data, no AWS call: it says nothing about
 * any company, and it is the no-op baseline of the HTTP path in the benchmarks.
 */
export const handler = httpRoute(async () => json(200, { status: 'ok' }));
