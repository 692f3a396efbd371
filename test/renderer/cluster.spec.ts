// The cluster panel's manager over the real handlers: an export at work takes cluster:progress for
// its bar and ETA, Cancel ends it as a cancel (null, not an error) leaving no job folder, and one
// that runs to the end answers the job; the ETA in words.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Events } from '../../preload/contract';
import { etaWords } from '../../renderer/src/lib/format';
import { Cluster } from '../../renderer/src/lib/managers/cluster.svelte';
import { backend, type Backend } from './backend';

let b: Backend;
let cluster: Cluster;
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-cluster-spec-'));
const seen: Events['cluster:progress'][] = [];

beforeAll(async () => {
  b = await backend(5);
  const classes = await b.api.call('classes:list', { datasetId: b.datasetId });
  const photos = (await b.api.call('photos:list', { datasetId: b.datasetId, limit: 100 })).items;
  for (const c of classes) await b.api.call('labels:set', { datasetId: b.datasetId, photoIds: photos.filter((p) => p.path.includes(`/${c.name}/`)).map((p) => p.id), classId: c.id });
  cluster = new Cluster(b.api);
  b.api.on('cluster:progress', (p) => {
    cluster.onProgress(p);
    if (cluster.progress) seen.push(cluster.progress);
  });
}, 60_000);

afterAll(async () => {
  await b.close();
  fs.rmSync(out, { recursive: true, force: true });
});

describe('Cluster (manager)', () => {
  it('cancels the export at work: null, no error, nothing left in the folder', async () => {
    const job = cluster.exportJob({ datasetId: b.datasetId, folder: out, settings: { recipe: 'scratch', architecture: 'alexnet' } });
    expect(cluster.job).toBe('export');
    await b.h.next('cluster:progress', (e) => e.phase === 'pca');
    expect(cluster.progress).toMatchObject({ job: 'export', phase: 'pca', done: 0 });
    await cluster.cancel();
    expect(await job).toBeNull();
    expect(cluster.job).toBeNull();
    expect(cluster.progress).toBeNull();
    expect(fs.readdirSync(out)).toEqual([]);
  });

  it('runs an export to the end: the job, after progress up to each phase total', async () => {
    seen.length = 0;
    const res = await cluster.exportJob({ datasetId: b.datasetId, folder: out, settings: { recipe: 'scratch', architecture: 'alexnet', valFraction: 0.2 } });
    expect(res?.value.train).toBe(8);
    expect(res?.value.val).toBe(2);
    expect(seen.at(-1)).toMatchObject({ phase: 'shards', done: 10, total: 10, etaSeconds: 0 });
    expect(fs.readdirSync(out)).toHaveLength(1);
  });

  it('says the ETA in words', () => {
    expect(etaWords(null)).toBe('—');
    expect(etaWords(40.4)).toBe('40 s');
    expect(etaWords(125)).toBe('2 min 5 s');
  });
});
