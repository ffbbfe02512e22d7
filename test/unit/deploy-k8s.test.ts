// The Kubernetes examples in pipelines/cluster/kubernetes are valid objects (kubernetes-models' schemas) and
// their prtip command lines are ones prtip accepts, with the shard count matching the Job's.
import t from 'tap';
import fs from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { parseArgs } from '../../packages/oclif-cli/lib/flags.js';
import { checkScanOptions, SCAN_GROUPS } from '../../packages/oclif-cli/lib/scan-checks.js';

const load = (name: string) => parseAllDocuments(fs.readFileSync(new URL(`../../pipelines/cluster/kubernetes/${name}`, import.meta.url), 'utf8')).map((d) => d.toJS() as { kind: string });
const MODELS: Record<string, new (o: never) => { validate(): void }> = { Job, Deployment, PersistentVolumeClaim } as never;

function validated(docs: Array<{ kind: string }>) {
  for (const d of docs) {
    const Model = MODELS[d.kind];
    if (!Model) throw new Error(`no schema for ${d.kind}`);
    new Model(d as never).validate();
  }
}

t.test('Indexed Job: JOB_COMPLETION_INDEX → --shard, NET_RAW, results on a shared volume', async (t) => {
  const docs = load('prtip-indexed-job.yaml');
  t.doesNotThrow(() => validated(docs), 'every document passes its Kubernetes schema');
  const job = docs.find((d) => d.kind === 'Job') as unknown as InstanceType<typeof Job>;
  const spec = job.spec!;
  t.equal(spec.completionMode, 'Indexed');
  t.equal(spec.parallelism, spec.completions);
  const c = spec.template.spec!.containers[0]!;
  t.same(c.securityContext?.capabilities?.add, ['NET_RAW']);
  const shards = c.env!.find((e) => e.name === 'SHARDS')!.value!;
  t.equal(Number(shards), spec.completions, 'SHARDS equals the Job\'s completions');
  const script = c.args![0]!;
  t.match(script, /i=\$\(\(JOB_COMPLETION_INDEX \+ 1\)\)/, 'the 0-based index becomes the 1-based shard');
  const line = /^\s*prtip scan (-sS .*) ;;$/m.exec(script)![1]!;
  const argv = line.replaceAll('$i', '3').replaceAll('$SHARDS', shards).replaceAll('$db', '/results/shard-2.duckdb').split(/\s+/);
  const o = parseArgs(argv, SCAN_GROUPS, 'scan', true);
  t.doesNotThrow(() => checkScanOptions(o));
  t.same(o.shard, { index: 3, count: Number(shards) });
  t.ok(o.seed !== undefined, 'one --seed for every pod');
  t.match(o.db, /^\/results\//);
  const claim = docs.find((d) => d.kind === 'PersistentVolumeClaim') as unknown as InstanceType<typeof PersistentVolumeClaim>;
  t.same(claim.spec!.accessModes, ['ReadWriteMany'], 'every pod mounts the same volume');
  t.equal(spec.template.spec!.volumes![0]!.persistentVolumeClaim!.claimName, claim.metadata!.name);
  t.equal(c.volumeMounts![0]!.mountPath, '/results');
});

t.test('worker Deployment: prtip worker with flags prtip accepts', async (t) => {
  const docs = load('prtip-workers.yaml');
  t.doesNotThrow(() => validated(docs));
  const dep = docs[0] as unknown as InstanceType<typeof Deployment>;
  const c = dep.spec!.template.spec!.containers[0]!;
  t.same(c.command!.slice(0, 2), ['prtip', 'worker']);
  const o = parseArgs(c.command!.slice(2), ['cluster'], 'worker', false);
  t.match(o.redis, /^redis:\/\//);
  t.equal(o.results, '/results');
  t.same(c.securityContext?.capabilities?.add, ['NET_RAW']);
});

t.test('the schemas do catch a broken object', async (t) => {
  const [, job] = load('prtip-indexed-job.yaml') as Array<Record<string, any>>;
  job!.spec.completions = 'eight';
  t.throws(() => new Job(job as never).validate());
});
