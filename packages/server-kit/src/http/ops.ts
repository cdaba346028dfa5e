import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** Resolves to `true` when ready, or to a short reason (no secrets) when not. */
export type ReadinessCheck = () => Promise<true | string>;

/** What `/readyz` says besides its status, ready or not: how the service runs (no secrets). */
export type ReadinessFacts = () => Record<string, unknown>;

/**
 * Liveness, readiness and Prometheus metrics. Routes are labelled by their pattern
 * (`/workspaces/:workspaceId`), never by the raw URL, so ids never become labels.
 */
export function installOps(
  app: FastifyInstance,
  service: string,
  ready: ReadinessCheck,
  facts: ReadinessFacts = () => ({}),
): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route pattern and status.',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer HTTP requests.',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  app.decorate('metrics', registry);
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  const hidden = { schema: { hide: true }, logLevel: 'warn' as const };
  app.get('/healthz', hidden, async () => ({ status: 'ok' }));
  app.get('/readyz', hidden, async (_request, reply) => {
    const result = await ready().catch(() => 'check failed');
    if (result === true) return { status: 'ready', ...facts() };
    return reply.status(503).send({ status: 'not_ready', reason: result, ...facts() });
  });
  app.get('/metrics', hidden, async (_request, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
  return registry;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry;
  }
}
