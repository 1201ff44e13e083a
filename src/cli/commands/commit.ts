import type { Command } from 'commander';

export function registerCommit(program: Command): void {
  void program; // not built yet
}
