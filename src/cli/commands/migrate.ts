import type { Command } from 'commander';

export function registerMigrate(program: Command): void {
  void program; // not built yet
}
