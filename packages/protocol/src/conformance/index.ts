// The exchange runner as the command line uses it (dist/conformance.js, for
// bin/probe-conformance.mjs): not part of the package's API.
export type { Exchange, ExchangeFile } from './format.js';
export { type ExchangeResult, type RunOptions, runExchange, unmetRequirements } from './runner.js';
export { wsConnect } from './socket.js';
export { VectorError } from './values.js';
