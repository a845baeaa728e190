/**
 * Issue-3 figures: export and import of every interchange format at n × 384 through the registry,
 * against raw write+fsync and raw read of the same vector bytes measured in this run, with file sizes.
 * Targets: SQLite, MessagePack and Parquet ≤ 3 × raw both ways.
 */
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { nodeFs } from '../src/env/node-fs.js';
import { codecFor, exchangeFormats, exportImage, importFile } from '../src/interchange/index.js';
import { clusteredDataset } from '../support/datasets.js';
import { RawIo, rawBaseline } from './raw.js';
import { sharedDatabase, type BenchSettings } from './persistence.js';
import { endStep, pairedExtra, Report, timePaired } from './report.js';

const TARGETS: Record<string, number> = { sqlite: 3, msgpack: 3, parquet: 3 };

/** Runs the interchange suite into `report`. */
export async function benchInterchange(report: Report, s: BenchSettings): Promise<void> {
  const suite = 'interchange';
  const dir = join(s.dir, 'interchange');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const data = clusteredDataset(s.n, s.dim, 11);
  const vectorBytes = new Uint8Array(data.vectors.buffer, data.vectors.byteOffset, data.vectors.byteLength);
  const raw = rawBaseline(join(dir, 'raw.bin'), vectorBytes, Math.max(3, s.rounds));
  const io = new RawIo(join(dir, 'raw-paired.bin'), vectorBytes);
  const mb = (vectorBytes.length / 1e6).toFixed(1);
  report.add({ suite, name: `raw write+fsync ${mb} MB (new file)`, value: raw.writeMs, unit: 'ms' });
  report.add({ suite, name: `raw read ${mb} MB`, value: raw.readMs, unit: 'ms' });
  const db = sharedDatabase(data, s.dim);

  for (const format of exchangeFormats()) {
    const codec = codecFor(format);
    if (!codec.canWrite) continue;
    const path = join(dir, `db${codec.extension('none')}`);
    let files: string[] = [path];
    const exp = await timePaired(s.pairedRounds, () => io.write(), async () => {
      const image = db.openImage();
      try {
        files = (await exportImage(nodeFs, path, image, { format })).files;
      } finally {
        image.release();
      }
    });
    const bytes = files.reduce((sum, f) => sum + statSync(f).size, 0);
    report.ratio(suite, `${format} export (durable)`, exp.ms, 'ms', exp.rawMs, 'raw write, new file, same rounds', TARGETS[format], pairedExtra(exp, { bytes }));
    let count = -1;
    const imp = await timePaired(s.pairedRounds, () => io.read(), async () => {
      count = (await importFile(nodeFs, path, { format })).columns.ids.length;
    });
    if (count !== s.n) throw new Error(`${format} import returned ${count} entries, expected ${s.n}`);
    report.ratio(suite, `${format} import (verified, into columns)`, imp.ms, 'ms', imp.rawMs, 'raw read, same rounds', TARGETS[format], pairedExtra(imp, { bytes }));
    for (const f of files) rmSync(f, { force: true });
    await endStep();
  }
}
