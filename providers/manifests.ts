// The one registration table: a provider is its folder plus one line here. Everything keyed
// by infrastructure type (block schemas, spec and provider loaders, override name maps,
// bundle externals, deployment sections, environment, IAM) is read from these manifests.
import { cloudRunJobManifest } from './cloud-run-job/manifest.js';
import { containerInstanceJobManifest } from './container-instance-job/manifest.js';
import { dockerContainerManifest } from './docker-container/manifest.js';
import { ecsTaskManifest } from './ecs-task/manifest.js';
import { kubernetesJobManifest } from './kubernetes-job/manifest.js';
import { processManifest } from './process/manifest.js';

/** Each entry's key is its manifest's `type` (checked by the compiler). */
function register<const M extends { [K in keyof M]: { type: K } }>(manifests: M): M {
  return manifests;
}

export const MANIFESTS = register({
  process: processManifest,
  'docker-container': dockerContainerManifest,
  'kubernetes-job': kubernetesJobManifest,
  'ecs-task': ecsTaskManifest,
  'cloud-run-job': cloudRunJobManifest,
  'container-instance-job': containerInstanceJobManifest,
});

export type Manifests = typeof MANIFESTS;
export type ManifestType = keyof Manifests;

export const MANIFEST_TYPES = Object.keys(MANIFESTS) as ManifestType[];

/**
 * One field of every manifest, keyed by type (`manifestField('schema')` is BLOCK_SCHEMAS): how
 * the per-type tables are views of MANIFESTS rather than lists of their own.
 */
export function manifestField<F extends keyof Manifests[ManifestType]>(
  field: F,
): { readonly [T in ManifestType]: Manifests[T][F] } {
  // one entry per key of MANIFESTS, each that manifest's own field: the mapped type exactly
  return Object.fromEntries(MANIFEST_TYPES.map((type) => [type, MANIFESTS[type][field]])) as {
    readonly [T in ManifestType]: Manifests[T][F];
  };
}
