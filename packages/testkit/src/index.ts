export {
  type Balancer,
  type BalancerOptions,
  type BalancerStats,
  createBalancer,
} from './balancer.js';
export { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium.js';
export {
  createFaultProxy,
  type FaultProxy,
  type FaultProxyOptions,
  type FaultProxyStats,
  type ProxiedConnection,
} from './fault-proxy.js';
export { type CloseInfo, RawClient, type RawClientOptions, type RawMessage } from './raw-client.js';
export {
  type RedisServer,
  type RedisServerOptions,
  type RespValue,
  redisServerPath,
  respCommand,
  startRedis,
} from './redis-server.js';
export { type EventSource, once, sleep, type WaitForOptions, waitFor } from './wait.js';
