// A self-contained interactive app (no dependencies: a bundle is not npm-installed).
// It listens on $PORT on loopback, answers HTTP, and echoes WebSocket messages at /ws.
// The data plane serves it from `/` of an origin of its own ($SOV_BASE_URL), so the
// paths the browser asks for are the paths it gets.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';

const port = Number(process.env.PORT);
const page = `<!doctype html>
<meta charset="utf-8">
<title>Sovereign echo</title>
<h1>Echo</h1>
<p>Served by job <code>${process.env.SOV_JOB}</code>, run <code>${process.env.SOV_RUN_ID}</code>.</p>
<form id="f"><input id="m" value="hello" autocomplete="off"> <button>Send</button></form>
<pre id="log"></pre>
<script>
  const log = (line) => { document.getElementById('log').textContent += line + '\\n'; };
  const ws = new WebSocket(new URL('ws', location.href).href.replace(/^http/, 'ws'));
  ws.onopen = () => log('connected');
  ws.onmessage = (event) => log('< ' + event.data);
  ws.onclose = () => log('closed');
  document.getElementById('f').onsubmit = (event) => {
    event.preventDefault();
    const text = document.getElementById('m').value;
    ws.send(text);
    log('> ' + text);
  };
</script>
`;

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://app');
  if (req.method === 'GET' && url.pathname === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page);
  } else if (req.method === 'GET' && url.pathname === '/hello') {
    // What the app was asked, as it saw it: the proxy's rewriting made visible.
    res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'seen=1; Path=/; HttpOnly' });
    res.end(
      JSON.stringify({
        message: 'hello from an interactive job',
        path: req.url,
        basePath: process.env.SOV_BASE_PATH,
        authorization: req.headers.authorization ?? null,
        cookie: req.headers.cookie ?? null,
        forwardedHost: req.headers['x-forwarded-host'] ?? null,
      }),
    );
  } else if (req.method === 'POST' && url.pathname === '/echo') {
    res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' });
    req.pipe(res);
  } else if (url.pathname === '/elsewhere') {
    res.writeHead(302, { location: '/hello' });
    res.end();
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  }
});

// WebSocket (RFC 6455), just enough for an echo: unfragmented text and binary
// messages, ping, close.
server.on('upgrade', (req, socket) => {
  const key = req.headers['sec-websocket-key'];
  if (new URL(req.url, 'http://app').pathname !== '/ws' || typeof key !== 'string') {
    socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    return;
  }
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`,
  );
  const send = (opcode, payload) => {
    const length = payload.length;
    const head =
      length < 126
        ? Buffer.from([0x80 | opcode, length])
        : length < 65536
          ? Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff])
          : Buffer.concat([Buffer.from([0x80 | opcode, 127]), bigLength(length)]);
    socket.write(Buffer.concat([head, payload]));
  };
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (;;) {
      if (buffered.length < 2) return;
      const opcode = buffered[0] & 0x0f;
      const masked = (buffered[1] & 0x80) !== 0;
      let length = buffered[1] & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffered.length < 4) return;
        length = buffered.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffered.length < 10) return;
        length = Number(buffered.readBigUInt64BE(2));
        offset = 10;
      }
      const maskAt = offset;
      if (masked) offset += 4;
      if (buffered.length < offset + length) return;
      const payload = Buffer.from(buffered.subarray(offset, offset + length));
      if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= buffered[maskAt + (i % 4)];
      buffered = buffered.subarray(offset + length);
      if (opcode === 0x1 || opcode === 0x2) send(opcode, payload);
      else if (opcode === 0x9) send(0xa, payload);
      else if (opcode === 0x8) {
        send(0x8, payload.subarray(0, 2));
        socket.end();
        return;
      }
    }
  });
  socket.on('error', () => socket.destroy());
});

function bigLength(length) {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt(length));
  return bytes;
}

// Loopback only: the data plane's proxy is the way in, with its token checks.
server.listen(port, '127.0.0.1', () => console.log(`echo listening on 127.0.0.1:${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
