import type { Command } from 'commander';

export function registerKv(program: Command): void {
  void program; // not built yet
}
