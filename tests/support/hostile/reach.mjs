// What a job can reach (docs/residency.md, "What a job can reach"), one line each:
// a server on this machine's own address standing for the outside world, the resolver its
// /etc/resolv.conf names (asked a name that exists nowhere: any answer is the resolver's),
// and a server of its own on its loopback.
//   node reach.mjs <host> <port>      the probe, as a job runs it
//   node reach.mjs resolver <address> only a resolver's answer: the test asks this machine's own
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';

/** A DNS query (id 0x5eed, recursion desired) for `sovereign-reach.invalid`, type A: `.invalid` is never a name. */
const question = Buffer.concat([
  Buffer.from([0x5e, 0xed, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]),
  ...['sovereign-reach', 'invalid'].map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label)])),
  Buffer.from([0, 0, 1, 0, 1]),
]);

/** `resolver answered rcode <n>`, or why none answered within three seconds. */
function askResolver(address) {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const done = (line) => {
      clearTimeout(timer);
      socket.close();
      resolve(line);
    };
    const timer = setTimeout(() => done('no resolver answer (timeout)'), 3000);
    socket.on('message', (answer) => {
      if (answer.readUInt16BE(0) === 0x5eed) done(`resolver answered rcode ${answer[3] & 0x0f}`);
    });
    socket.on('error', (error) => done(`no resolver answer (${error.code})`));
    socket.send(question, 53, address, (error) => {
      if (error) done(`no resolver answer (${error.code})`);
    });
  });
}

const [first, second] = process.argv.slice(2);
if (first === 'resolver') {
  console.log(await askResolver(second));
} else {
  console.log(
    await new Promise((resolve) => {
      const socket = net.connect(Number(second), first);
      socket.on('data', (data) => {
        socket.destroy();
        resolve(`reached ${String(data).trim()}`);
      });
      socket.on('error', (error) => resolve(`refused ${error.code}`));
    }),
  );
  const nameserver = /^nameserver\s+(\S+)/m.exec(readFileSync('/etc/resolv.conf', 'utf8'))?.[1];
  console.log(nameserver === undefined ? 'no-resolver' : `nameserver ${nameserver}`);
  // Without a resolver named, slirp4netns's is asked all the same: it must not answer.
  console.log(await askResolver(nameserver ?? '10.0.2.3'));
  console.log(
    await new Promise((resolve) => {
      const server = net
        .createServer((socket) => socket.end())
        .listen(7777, '127.0.0.1', () => {
          net.connect(7777, '127.0.0.1').on('connect', function () {
            this.destroy();
            server.close();
            resolve('own loopback');
          });
        });
    }),
  );
}
