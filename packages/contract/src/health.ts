/** Health of a data plane, judged from its instances' heartbeats. */
export const DataplaneHealthStatuses = ['healthy', 'degraded', 'unhealthy', 'unknown'] as const;
export type DataplaneHealthStatus = (typeof DataplaneHealthStatuses)[number];

export const healthyWithinMs = 60_000;
export const degradedWithinMs = 5 * 60_000;

/** Classify a data plane by the time of its newest heartbeat. */
export function dataplaneHealth(lastHeartbeat: Date | null, now: Date): DataplaneHealthStatus {
  if (lastHeartbeat === null) return 'unknown';
  const age = now.getTime() - lastHeartbeat.getTime();
  if (age <= healthyWithinMs) return 'healthy';
  if (age <= degradedWithinMs) return 'degraded';
  return 'unhealthy';
}
