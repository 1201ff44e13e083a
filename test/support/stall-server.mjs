#!/usr/bin/env node
/**
 * A loopback HTTP server that never finishes an answer, for timeout tests. Test support only.
 *   node stall-server.mjs [--mode accept|half]
 *   accept: accepts the connection, reads the request and never answers
 *   half:   answers 200 with a Content-Length of 1000 bytes, sends 10 of them and stalls
 * Prints one JSON line `{"port": N}` on stdout once listening; exits on SIGTERM.
 */
import net from 'node:net';

const mode = process.argv[process.argv.indexOf('--mode') + 1] === 'half' ? 'half' : 'accept';
const sockets = new Set();

const server = net.createServer((sock) => {
  sockets.add(sock);
  sock.on('close', () => sockets.delete(sock));
  sock.on('error', () => undefined);
  let head = '';
  sock.on('data', (d) => {
    if (mode !== 'half' || head.includes('\r\n\r\n')) return;
    head += d.toString('latin1');
    if (head.includes('\r\n\r\n')) {
      sock.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"baton":n');
    }
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});

process.on('SIGTERM', () => {
  for (const s of sockets) s.destroy();
  server.close();
  process.exit(0);
});
