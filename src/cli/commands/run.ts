import type { Command } from 'commander';

export function registerRun(program: Command): void {
  void program; // not built yet
}
