// A Job manifest as the API server would take it: the official schema (kubernetes-models), plus
// the name and label rules the schema leaves out. One check for every test that makes a Job.
import assert from 'node:assert/strict';
import { Job } from 'kubernetes-models/batch/v1';
import type { JobManifest } from '../../providers/kubernetes-job/build.js';
import { DNS_1123_LABEL, labelKeyProblem, labelValueProblem } from '../../providers/kubernetes-job/names.js';

export function assertValidJob(manifest: JobManifest): void {
  new Job(manifest as unknown as ConstructorParameters<typeof Job>[0]).validate();
  const { name, generateName, namespace, labels = {} } = manifest.metadata;
  if (name !== undefined) {
    assert.ok(name.length <= 63 && DNS_1123_LABEL.test(name), `name '${name}'`);
  } else {
    assert.ok(generateName && generateName.length <= 58, `generateName '${generateName}'`);
  }
  assert.ok(namespace && DNS_1123_LABEL.test(namespace), `namespace '${namespace}'`);
  const template = manifest.spec.template as { metadata?: { labels?: Record<string, string> } };
  for (const [key, value] of Object.entries({ ...labels, ...template.metadata?.labels })) {
    assert.equal(labelKeyProblem(key), undefined, key);
    assert.equal(labelValueProblem(value), undefined, value);
  }
}
