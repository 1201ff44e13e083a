import type { Command } from 'commander';

export function registerMount(program: Command): void {
  void program; // not built yet
}
