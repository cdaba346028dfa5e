// The hello job. Everything it touches stays in the workspace's region: the variable and
// the secret come from the data plane, the report is stored there as an output, and the
// state file is saved there when the run succeeds.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const greeting = process.env.GREETING ?? 'Hello';
const state = JSON.parse(readFileSync(process.env.SOV_STATE_FILE, 'utf8'));
const runs = (state.runs ?? 0) + 1;

console.log(`${greeting} from ${process.env.SOV_JOB}, run number ${runs}.`);
if (process.env.GREETING === undefined) console.log('Tip: choose the greeting with: sov vars set GREETING Bonjour');
if (process.env.API_TOKEN === undefined) {
  console.log('Tip: add a secret with: sov vars set API_TOKEN --secret');
} else {
  // Printed on purpose: the data plane masks every secret's value in the logs it stores.
  console.log(`Calling the API with token ${process.env.API_TOKEN}`);
}

const report = {
  greeting,
  runs,
  runId: process.env.SOV_RUN_ID,
  previousRunAt: state.lastRunAt ?? null,
  at: new Date().toISOString(),
};
writeFileSync(join(process.env.SOV_OUTPUT_DIR, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(process.env.SOV_STATE_FILE, JSON.stringify({ runs, lastRunAt: report.at }));
console.log(`Wrote report.json; the state now counts ${runs} run(s).`);
