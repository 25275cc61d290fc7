// The Prefect API client lives in functions/lib/prefect/; this name stays for its importers.
export { type PrefectApi, PrefectApiError, prefectApi } from './prefect/client.js';
