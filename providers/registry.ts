// Loads a provider's module (its SDK calls) only when its type is used, through its manifest
// (providers/<type>/manifest.ts). Only the CLI, the local runner, tests and the bench load
// providers this way; a deployed function imports its one provider directly
// (functions/infra/<type>.ts) and serves only that type (onlyProvider). Pure halves: specs.ts.
import type { BlockOf, BlockType } from './blocks.js';
import { ofType } from './manifest.js';
import { manifestField } from './manifests.js';
import type { Provider } from './port.js';

/** What a function is given to find the provider of a run's type (Deps.loadProvider). */
export type ProviderLoader = (type: BlockType) => Promise<Provider>;

/** Per type, how to load its provider (a manifest's `loadProvider`). */
export type ProviderLoaders = { readonly [T in BlockType]: () => Promise<Provider<BlockOf<T>>> };

/** A loader over `loaders` that checks what each gives: another type's provider is refused by name. */
export function checkedProviderLoader(loaders: ProviderLoaders) {
  return async <T extends BlockType>(type: T): Promise<Provider<BlockOf<T>>> =>
    ofType(type, await loaders[type](), 'provider');
}

/** The provider of exactly `type` (ProviderTypeMismatchError if its manifest loads another type's). */
export const loadProvider = checkedProviderLoader(manifestField('loadProvider'));

/** A function's one provider, as its loader: asking it for any other type throws ProviderTypeMismatchError. */
export function onlyProvider<T extends BlockType>(provider: Provider<BlockOf<T>>): ProviderLoader {
  return async (type) => ofType(type, provider, 'provider');
}

export { loadSpec, type SpecLoader } from './specs.js';
