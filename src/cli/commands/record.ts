import type { Command } from 'commander';

export function registerRecord(program: Command): void {
  void program; // not built yet
}
