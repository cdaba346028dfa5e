import { readFile, writeFile } from 'node:fs/promises';

/** A field of /proc/<pid>/status in KiB (Linux): VmRSS now, VmHWM the peak since the last reset. */
export async function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(text)?.[1]);
}

/**
 * Watches a process's resident memory: resets its high-water mark (writing 5 to
 * clear_refs), samples VmRSS every 20 ms, and on stop reports the baseline and the peak
 * (the larger of the samples and VmHWM), in MiB.
 */
export async function watchMemory(pid: number): Promise<{ stop(): Promise<{ beforeMiB: number; peakMiB: number }> }> {
  await writeFile(`/proc/${pid}/clear_refs`, '5').catch(() => {});
  const baseline = await statusKiB(pid, 'VmRSS');
  let peak = baseline;
  const sampler = setInterval(() => {
    void statusKiB(pid, 'VmRSS')
      .then((kib) => {
        peak = Math.max(peak, kib);
      })
      .catch(() => {});
  }, 20);
  sampler.unref();
  return {
    async stop() {
      clearInterval(sampler);
      const hwm = await statusKiB(pid, 'VmHWM').catch(() => 0);
      return { beforeMiB: baseline / 1024, peakMiB: Math.max(peak, hwm) / 1024 };
    },
  };
}
