/** A worker thread of `brainpilot ablate --jobs N`: flies the races it is sent, one at a time. */
import { parentPort } from 'node:worker_threads';
import { flyAblationJob, type AblationJob } from './ablate.js';

parentPort!.on('message', (job: AblationJob) => {
  try {
    parentPort!.postMessage({ ok: true, run: flyAblationJob(job) });
  } catch (e) {
    parentPort!.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) });
  }
});
