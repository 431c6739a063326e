// The BullMQ peer of `ferry-bench`'s no-op queue figure (scheduler/src/bench/bullmq.rs writes this file
// next to the `node_modules` it installs and runs it twice: once as the worker, once as the producer,
// each its own process, as Ferry's worker and the benchmark's pushes are).
//
//   node bullmq.mjs work   prints "ready" once its Worker is connected, then, after JOBS jobs
//                          completed, one JSON line {"done_ms": <epoch ms of the last completion>}
//   node bullmq.mjs push   adds JOBS no-op jobs from PUSHERS loops, each awaiting its own `Queue.add`
//                          (as Ferry's bench pushes), and prints {"started_ms": <epoch ms before the
//                          first add>}
//
// Environment: REDIS_URL (redis:// or rediss://, user, password and database as Ferry reads them),
// PREFIX (the queue's own key prefix), JOBS, CONCURRENCY, PUSHERS.
// Every timer is bounded: a worker that does not see its jobs within DEADLINE_MS exits with status 2.

import { Queue, Worker } from 'bullmq';

const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const connection = {
  host: url.hostname,
  port: Number(url.port || 6379),
  username: url.username ? decodeURIComponent(url.username) : undefined,
  password: url.password ? decodeURIComponent(url.password) : undefined,
  db: Number(url.pathname.slice(1) || 0),
  tls: url.protocol === 'rediss:' ? {} : undefined,
  maxRetriesPerRequest: null,
};
const prefix = process.env.PREFIX ?? 'ferry-bench-bullmq';
const jobs = Number(process.env.JOBS ?? 2000);
const concurrency = Number(process.env.CONCURRENCY ?? 1);
const pushers = Number(process.env.PUSHERS ?? 1);
const name = 'noop';
const DEADLINE_MS = 300_000;
const now = () => performance.timeOrigin + performance.now();

const role = process.argv[2];
const deadline = setTimeout(() => {
  console.error(`bullmq ${role}: not done within ${DEADLINE_MS} ms`);
  process.exit(2);
}, DEADLINE_MS);

if (role === 'work') {
  let completed = 0;
  const worker = new Worker(name, async () => {}, { connection, prefix, concurrency });
  worker.on('completed', async () => {
    completed += 1;
    if (completed === jobs) {
      const done = now();
      console.log(JSON.stringify({ done_ms: done }));
      clearTimeout(deadline);
      await worker.close();
      process.exit(0);
    }
  });
  worker.on('error', (e) => console.error(`bullmq worker: ${e}`));
  await worker.waitUntilReady();
  console.log('ready');
} else if (role === 'push') {
  const queue = new Queue(name, { connection, prefix });
  await queue.waitUntilReady();
  const started = now();
  let next = 0;
  const pusher = async () => {
    while (next < jobs) {
      next += 1;
      await queue.add(name, { run_id: 1 });
    }
  };
  await Promise.all(Array.from({ length: pushers }, pusher));
  console.log(JSON.stringify({ started_ms: started }));
  clearTimeout(deadline);
  await queue.close();
} else {
  console.error('usage: node bullmq.mjs work|push');
  process.exit(1);
}
