import type { Command } from 'commander';

export function registerSync(program: Command): void {
  void program; // not built yet
}
