// Child process of the hash-worker tests: grows an engine slab past 4 MiB, which starts the helper thread
// to prefault it (no hash job), and then has nothing left to do: it must exit at once.
import { VectorDB } from '../../src/index.js';

const db = new VectorDB({ dimension: 64 });
await db.insertBatch(Array.from({ length: 20000 }, (_, i) => ({ id: i, vector: Float32Array.from({ length: 64 }, (_, j) => Math.sin(i + j)) })));
process.stdout.write(`${JSON.stringify(process.getActiveResourcesInfo())}\n`);
