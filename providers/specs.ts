// Loads a type's pure half (build + watch defaults) only when that type is used, through its
// manifest. Kept apart from the provider loader (registry.ts): a bundle that imports this
// module never holds any provider's SDK (manifests load their index.ts out of esbuild's sight).
import type { BlockOf, BlockType } from './blocks.js';
import { ofType } from './manifest.js';
import { manifestField } from './manifests.js';
import type { ProviderSpec } from './port.js';

/** What a function is given to find the spec of a run's type (Deps.loadSpec). */
export type SpecLoader = (type: BlockType) => Promise<ProviderSpec>;

/** Per type, how to load its spec (a manifest's `loadSpec`). */
export type SpecLoaders = { readonly [T in BlockType]: () => Promise<ProviderSpec<BlockOf<T>>> };

/** A loader over `loaders` that checks what each gives: another type's spec is refused by name. */
export function checkedSpecLoader(loaders: SpecLoaders) {
  return async <T extends BlockType>(type: T): Promise<ProviderSpec<BlockOf<T>>> =>
    ofType(type, await loaders[type](), 'spec');
}

/** The spec of exactly `type` (ProviderTypeMismatchError if its manifest loads another type's). */
export const loadSpec = checkedSpecLoader(manifestField('loadSpec'));
