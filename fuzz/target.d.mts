// Types of target.mjs, for the regression test.

export interface FuzzConfig {
  events: boolean;
  verifyChecksums: boolean;
  maxFlows: number;
  /** Bytes per read; 0 reads the whole input at once. */
  chunkSize: number;
  /** Bytes from this offset on are a second file of the same capture; 0 for one file. */
  split: number;
  /** The one-step path off (Flag.ExactPathOnly). */
  exactPath?: boolean;
  /** 1 + the index of a capture filter of FILTERS; 0 for none. */
  filter: number;
}

export const DEFAULT_CONFIG: Readonly<FuzzConfig>;
export const FILTERS: readonly string[];
export function configName(config: FuzzConfig): string;
export function configFromName(name: string): FuzzConfig;

export class Finding extends Error {
  readonly kind: string;
  readonly signature: string;
  /** The config of the run that failed. */
  config: FuzzConfig | null;
}

export interface RunResult {
  stats: Record<string, number>;
  rows: number;
  events: number;
  rejected: string | null;
}

export class Target {
  constructor(module: WebAssembly.Module, options?: { map?: unknown; timeoutMs?: number });
  run(bytes: Uint8Array, config?: FuzzConfig, options?: { build?: boolean; slackByte?: number }): Promise<RunResult>;
  compare(bytes: Uint8Array, config: FuzzConfig): Promise<void>;
}
