import type { Command } from 'commander';
import { untilStopSignal } from '../../platform/signals.js';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { UserError } from '../errors.js';
import { resolveDatabase } from '../../sandbox/index.js';

interface UiCliOptions {
  port: string;
  bind: string;
  open: boolean;
}

/** Opens url in the desktop's browser, when there is a desktop; never fails the command. */
function openBrowser(url: string): void {
  const display = process.platform === 'darwin' || process.env.DISPLAY || process.env.WAYLAND_DISPLAY;
  if (!display) return;
  try {
    const child = spawn(process.platform === 'darwin' ? 'open' : 'xdg-open', [url], { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    /* no opener: the URL is printed */
  }
}

export function registerUi(program: Command): void {
  program
    .command('ui')
    .description('Serve a local web page to look at agents: tool call waterfall, file changes and diffs, files, kv, stats (read-only)')
    .argument('[ID_OR_PATH...]', 'agent ids, .db paths or run session ids (default: every agent in ./.agentfs and every run session)')
    .option('--port <N>', 'TCP port (0: any free port)', '0')
    .option('--bind <ADDRESS>', 'address to listen on', '127.0.0.1')
    .option('--no-open', 'do not open a browser')
    .action(async (targets: string[], opts: UiCliOptions) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`--port ${opts.port}: expected a port number from 0 to 65535`);
      for (const t of targets) {
        if (!existsSync(resolveDatabase(t))) throw new UserError(`no such agent or session '${t}' (no ${resolveDatabase(t)})`, 'not-found');
      }
      const { startUi } = await import('../../ui/server.js');
      let ui;
      try {
        ui = await startUi({ targets, port, bind: opts.bind });
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code === 'EADDRINUSE') throw new UserError(`--port ${port}: the port is in use`);
        if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') throw new UserError(`--bind ${opts.bind}: not an address of this machine`);
        throw e;
      }
      // listen for the signals before the URL is out: whoever reads it may stop us at once
      const stopped = untilStopSignal({ signals: ['SIGINT', 'SIGTERM'] });
      const n = ui.agents.sources().length;
      console.log(`agentfs ui: ${n} agent${n === 1 ? '' : 's'} at ${ui.url}`);
      if (!/^(127\.|::1$|localhost$)/.test(opts.bind)) console.error(`agentfs: warning: listening on ${opts.bind}; anyone with the URL can read these agents`);
      if (opts.open) openBrowser(ui.url);
      await stopped.signal;
      await ui.close();
    });
}
