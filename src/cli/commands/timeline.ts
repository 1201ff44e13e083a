import type { Command } from 'commander';

export function registerTimeline(program: Command): void {
  void program; // not built yet
}
