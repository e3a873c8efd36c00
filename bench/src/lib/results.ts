import type { SystemName } from '../systems/index.js';

/** One line of the results table: samples per system (one per repeat or per trial). */
export interface Row {
  scenario: string;
  metric: string;
  /** Drives how ratios are read; ratios are always Probe ÷ other. */
  higherIsBetter: boolean;
  samples: Partial<Record<SystemName, number[]>>;
  /** Decimals to print. */
  decimals?: number;
  /** Print whole numbers in full (bytes) instead of abbreviating thousands. */
  exact?: boolean;
  /** Extra words per system, e.g. errors seen. */
  notes?: Partial<Record<SystemName, string>>;
  /** 'shared': several nodes sharing Redis; reported in a table of their own. */
  group?: 'shared';
}

export function row(scenario: string, metric: string, higherIsBetter: boolean, decimals = 0): Row {
  return { scenario, metric, higherIsBetter, samples: {}, decimals };
}

export function add(r: Row, system: SystemName, value: number): void {
  const list = r.samples[system] ?? [];
  list.push(value);
  r.samples[system] = list;
}

export function note(r: Row, system: SystemName, text: string): void {
  r.notes ??= {};
  const prev = r.notes[system];
  r.notes[system] = prev ? `${prev}; ${text}` : text;
}

export type Log = (line: string) => void;

/** Systems in a different order each repeat, so no system always goes first. */
export function rotated<T>(items: readonly T[], repeat: number): T[] {
  const k = repeat % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}
