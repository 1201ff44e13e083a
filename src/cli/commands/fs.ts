import type { Command } from 'commander';

export function registerFs(program: Command): void {
  void program; // not built yet
}
