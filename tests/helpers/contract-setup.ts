import { checkedFetch } from './contract';

// Every test of the stack project talks to the API through fetch: each exchange is held to
// openapi.yaml (tests/helpers/contract.ts).
const apiUrl = process.env['TEST_API_URL'];
if (apiUrl) globalThis.fetch = checkedFetch(globalThis.fetch, apiUrl);
