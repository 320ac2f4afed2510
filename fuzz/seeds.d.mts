// Types of seeds.mjs, for the regression test.

export function seedCorpus(sharedDir?: string | null): Array<{ name: string; bytes: Uint8Array }>;
